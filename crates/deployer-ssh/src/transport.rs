//! One `ControlMaster` per host; each phase's script runs as `sh -s` over it.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use deployer_config::{Connection, KnownHosts};
use deployer_exec::{LocalTransport, OutputSink, Transport, TransportError, read_both};
use deployer_plan::PlanHost;
use openssh::{ControlPersist, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;

use crate::control_dir::ControlDir;

/// How long an idle master survives if deployer dies without closing it.
const ORPHAN_LIFETIME_SECONDS: usize = 60;

/// Connection settings, from the configuration's `ssh` section and the flags.
#[derive(Debug, Clone)]
pub struct SshSettings {
    pub connect_timeout: Duration,
    pub connection_attempts: u32,
    /// Between keepalives; a host that misses three is given up on, so a cut
    /// link or silently dropped packets end a run in bounded time.
    pub keepalive_interval: Duration,
    pub known_hosts: KnownHosts,
    pub known_hosts_file: Option<Utf8PathBuf>,
    pub identity_file: Option<Utf8PathBuf>,
    pub gateway: Option<String>,
    pub forward_agent: bool,
}

/// Local hosts run here; every other host through its own `ControlMaster`.
pub struct FleetTransport {
    settings: SshSettings,
    control: ControlDir,
    config_file: Utf8PathBuf,
    sessions: Mutex<HashMap<usize, Arc<Session>>>,
}

impl FleetTransport {
    pub fn new(settings: SshSettings) -> Result<Self, crate::ControlDirError> {
        let control = ControlDir::create()?;
        let config_file = control.path().join("ssh_config");
        write_config(&config_file, &settings)
            .map_err(|source| crate::ControlDirError::Create { path: config_file.clone(), source })?;
        Ok(Self { settings, control, config_file, sessions: Mutex::new(HashMap::new()) })
    }

    /// The directory holding this run's sockets.
    pub fn control_directory(&self) -> &Utf8Path {
        self.control.path()
    }

    /// For a second Ctrl-C: tells every master to exit, synchronously, without the
    /// async runtime. Anything left is bounded by `ControlPersist`.
    pub fn emergency_close(control_directory: &Utf8Path) {
        Self::exit_masters(control_directory);
        let _ = std::fs::remove_dir_all(control_directory);
    }

    /// `ssh -O exit` for every master socket left in the directory.
    fn exit_masters(control_directory: &Utf8Path) {
        let Ok(entries) = std::fs::read_dir(control_directory) else { return };
        for entry in entries.flatten() {
            let socket = entry.path().join("master");
            if socket.exists() {
                let _ = std::process::Command::new("ssh")
                    .arg("-S")
                    .arg(&socket)
                    .args(["-O", "exit", "deployer"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }

    fn builder(&self, host: &PlanHost) -> SessionBuilder {
        let mut builder = SessionBuilder::default();
        builder
            .config_file(&self.config_file)
            .known_hosts_check(match self.settings.known_hosts {
                KnownHosts::Strict => openssh::KnownHosts::Strict,
                KnownHosts::AcceptNew => openssh::KnownHosts::Add,
            })
            .connect_timeout(self.settings.connect_timeout)
            .server_alive_interval(self.settings.keepalive_interval)
            .control_directory(self.control.path())
            .control_persist(ControlPersist::IdleFor(NonZeroUsize::new(ORPHAN_LIFETIME_SECONDS).expect("non-zero")));
        if let Some(user) = &host.user {
            builder.user(user.clone());
        }
        if let Some(port) = host.port {
            builder.port(port);
        }
        if let Some(gateway) = &self.settings.gateway {
            builder.jump_hosts([gateway]);
        }
        builder
    }

    fn session(&self, index: usize) -> Option<Arc<Session>> {
        self.sessions.lock().expect("not poisoned").get(&index).cloned()
    }
}

impl Transport for FleetTransport {
    async fn connect(&self, index: usize, host: &PlanHost) -> Result<(), TransportError> {
        if host.connection == Connection::Local {
            return Ok(());
        }
        let builder = self.builder(host);
        let attempts = self.settings.connection_attempts.max(1);
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            // No tokio timeout around this: a cancelled connect leaks the master.
            // `ConnectTimeout` and `BatchMode` make ssh give up by itself.
            match builder.connect_mux(&host.host).await {
                Ok(session) => {
                    self.sessions.lock().expect("not poisoned").insert(index, Arc::new(session));
                    return Ok(());
                }
                Err(error) => {
                    last_error = describe(&error);
                    if attempt < attempts {
                        tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                    }
                }
            }
        }
        let tried = if attempts > 1 { format!(" (tried {attempts} times)") } else { String::new() };
        Err(TransportError::Connect(format!("{last_error}{tried}")))
    }

    async fn run(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        if host.connection == Connection::Local {
            return LocalTransport.run(index, host, script, sink).await;
        }
        let session =
            self.session(index).ok_or_else(|| TransportError::Other("the host is not connected".to_owned()))?;
        // `sh -s`: the script arrives on stdin, so nothing of it is in any argv.
        let mut child = session
            .command("sh")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|error| TransportError::Lost(describe(&error)))?;
        let mut stdin = child.stdin().take().expect("piped");
        let stdout = child.stdout().take().expect("piped");
        let stderr = child.stderr().take().expect("piped");
        let write = async move {
            let _ = stdin.write_all(script.as_bytes()).await;
            let _ = stdin.shutdown().await;
            drop(stdin);
        };
        // Read both streams to the end before waiting (openssh-rust/openssh#103).
        let ((), read) = tokio::join!(write, read_both(stdout, stderr, sink));
        read.map_err(|error| TransportError::Lost(error.to_string()))?;
        match child.wait().await {
            Ok(status) => Ok(status.code().unwrap_or(255)),
            Err(error) => Err(TransportError::Lost(describe(&error))),
        }
    }

    async fn close(&self) {
        let sessions: Vec<Arc<Session>> =
            self.sessions.lock().expect("not poisoned").drain().map(|(_, session)| session).collect();
        for session in sessions {
            if let Ok(session) = Arc::try_unwrap(session) {
                // A master that logged something makes close() report it; it is closed all the same.
                let _ = session.close().await;
            }
        }
        // A polite close lets a master wait for channels a silent host never ends;
        // tell any master still there to exit now.
        let directory = self.control.path().to_owned();
        let _ = tokio::task::spawn_blocking(move || Self::exit_masters(&directory)).await;
    }
}

/// The per-run ssh configuration: deployer's settings first (the first value
/// obtained wins), then the user's and the system's configuration, so `HostName`,
/// User, Port, `IdentityFile` and `ProxyJump` keep working. Settings live here rather
/// than on the command line so a gateway (`-J`) connection gets them too.
fn write_config(path: &Utf8Path, settings: &SshSettings) -> std::io::Result<()> {
    let forward = if settings.forward_agent { "yes" } else { "no" };
    let strict = match settings.known_hosts {
        KnownHosts::Strict => "yes",
        KnownHosts::AcceptNew => "accept-new",
    };
    let mut text = format!(
        "# written by deployer for one run\n\
         Host *\n\
         \x20 LogLevel ERROR\n\
         \x20 BatchMode yes\n\
         \x20 ForwardAgent {forward}\n\
         \x20 StrictHostKeyChecking {strict}\n\
         \x20 ServerAliveCountMax 3\n\
         \x20 ConnectionAttempts 1\n"
    );
    // ssh expands `%` tokens in these paths: a literal `%` is written `%%`. The
    // configuration refuses `"` and control characters in them.
    let literal = |path: &Utf8Path| path.as_str().replace('%', "%%");
    if let Some(file) = &settings.known_hosts_file {
        text.push_str(&format!("  UserKnownHostsFile \"{}\"\n", literal(file)));
    }
    if let Some(key) = &settings.identity_file {
        text.push_str(&format!("  IdentityFile \"{}\"\n  IdentitiesOnly yes\n", literal(key)));
    }
    text.push_str("Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n");
    std::fs::write(path, text)
}

fn describe(error: &openssh::Error) -> String {
    let text = error.to_string();
    let detail = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
    let combined = if detail.is_empty() || text.contains(&detail) { text } else { format!("{text}: {detail}") };
    combined.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" / ")
}
