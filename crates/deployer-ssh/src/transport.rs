//! One `ControlMaster` per host; each phase's script runs as `sh -s` over it, in
//! a shell opened before the phase (`standby.rs`).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use deployer_config::{Connection, HostString, KeyExchange, KnownHosts};
use deployer_exec::{
    Connected, LocalTransport, OutputSink, Pace, Replies, SharedRate, Transport, TransportError, read_both, until_read,
    write_input,
};
use deployer_plan::PlanHost;
use openssh::{ControlPersist, Session, SessionBuilder};

use crate::control_dir::ControlDir;
use crate::persist::{self, PersistDir};
use crate::standby::{RemoteShell, SHELLS_AHEAD, Standbys, open_shell};

/// How long an idle master survives if deployer dies without closing it.
const ORPHAN_LIFETIME_SECONDS: usize = 60;

/// How long a finished phase waits for the next phase's shell to open.
const NEXT_SHELL_GRACE: Duration = Duration::from_secs(1);

/// Dropped handshakes tried again per connect, beyond `connection_attempts`.
/// The pauses stop growing at 1.6-3.2 s, so 12 retries wait 15-30 s in all: 8
/// (7-14 s) were not always enough for 20 connects at once to one sshd letting
/// 3 in, on a controller also running the rest of the test suite.
const MAX_DROPPED_HANDSHAKE_RETRIES: u32 = 12;

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
    /// `ssh.key_exchange`.
    pub key_exchange: KeyExchange,
    /// `--gateway`: the bastion of every host, whatever the configuration says.
    pub forced_gateway: Option<HostString>,
    pub forward_agent: bool,
    /// `ssh.control_persist`: seconds a directly reached host's master
    /// outlives the run, for the next run to reuse.
    pub control_persist: Option<u32>,
}

/// Local hosts run here; every other host through its own `ControlMaster`.
pub struct FleetTransport {
    settings: SshSettings,
    control: ControlDir,
    config_file: Utf8PathBuf,
    /// What `config_file` holds: part of a kept master's key.
    config_text: String,
    /// Where masters that outlive the run live, with `ssh.control_persist`.
    persist: Option<PersistDir>,
    sessions: Mutex<HashMap<usize, HostSession>>,
    /// Each connected host's shells for its coming phases.
    standbys: Standbys,
    /// How many scripts each host runs after its next one, as the executor said:
    /// no more shells are opened for it than that.
    scripts_after: Mutex<HashMap<usize, usize>>,
    /// Per gateway (by host string): its master and the ssh configuration that
    /// reaches hosts through it, or why it could not be reached. Connected once,
    /// when the first host behind it connects.
    gateways: tokio::sync::Mutex<HashMap<String, Result<GatewayMaster, String>>>,
    /// The rate every host's replies share.
    sending: SharedRate,
}

/// A host's master, and whether it is kept after the run (`ssh.control_persist`).
struct HostSession {
    session: Arc<Session>,
    kept: bool,
}

/// A gateway's one authenticated connection, shared by every host behind it.
struct GatewayMaster {
    session: Arc<Session>,
    /// The run's ssh configuration plus a `ProxyCommand` through this master.
    config_file: Utf8PathBuf,
}

impl FleetTransport {
    pub fn new(settings: SshSettings) -> Result<Self, crate::ControlDirError> {
        let control = ControlDir::create()?;
        let config_file = control.path().join("ssh_config");
        let text = config_text(&settings, None);
        std::fs::write(&config_file, &text)
            .map_err(|source| crate::ControlDirError::Create { path: config_file.clone(), source })?;
        let persist = settings.control_persist.map(|_| PersistDir::open()).transpose()?;
        Ok(Self {
            settings,
            control,
            config_file,
            config_text: text,
            persist,
            sessions: Mutex::new(HashMap::new()),
            standbys: Standbys::default(),
            scripts_after: Mutex::new(HashMap::new()),
            gateways: tokio::sync::Mutex::new(HashMap::new()),
            sending: SharedRate::new(SharedRate::SSH_BYTES_PER_SECOND),
        })
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
            crate::control_dir::exit_master(&entry.path());
        }
    }

    /// A session builder for `host`'s master with the ssh configuration `config_file`.
    /// `first_contact`: a server this run launched, whose key no one can know yet;
    /// it is recorded on first contact (a changed key is still refused).
    fn builder(
        &self,
        user: Option<&str>,
        port: Option<u16>,
        config_file: &Utf8Path,
        first_contact: bool,
    ) -> SessionBuilder {
        let mut builder = SessionBuilder::default();
        builder
            .config_file(config_file)
            .known_hosts_check(match self.settings.known_hosts {
                KnownHosts::Strict if !first_contact => openssh::KnownHosts::Strict,
                KnownHosts::Strict | KnownHosts::AcceptNew => openssh::KnownHosts::Add,
            })
            .connect_timeout(self.settings.connect_timeout)
            .server_alive_interval(self.settings.keepalive_interval)
            .control_directory(self.control.path())
            .control_persist(ControlPersist::IdleFor(NonZeroUsize::new(ORPHAN_LIFETIME_SECONDS).expect("non-zero")));
        if let Some(user) = user {
            builder.user(user.to_owned());
        }
        if let Some(port) = port {
            builder.port(port);
        }
        builder
    }

    /// The ssh configuration that reaches hosts through `gateway`'s master,
    /// connecting the master first if it is not up. A gateway that cannot be
    /// reached is tried once per run: every host behind it gets the same error.
    async fn through(&self, gateway: &HostString) -> Result<Utf8PathBuf, TransportError> {
        let key = gateway.to_string();
        let mut gateways = self.gateways.lock().await;
        if let Some(known) = gateways.get(&key) {
            return known.as_ref().map(|master| master.config_file.clone()).map_err(|error| gateway_error(&key, error));
        }
        let builder = self.builder(gateway.user.as_deref(), gateway.port, &self.config_file, false);
        let master = match self.connect_with_retries(&builder, &gateway.host, None).await {
            Ok((session, _)) => {
                let config_file = self.control.path().join(format!("ssh_config.gateway{}", gateways.len()));
                let proxy = proxy_command(&self.config_file, session.control_socket(), gateway);
                match proxy.and_then(|proxy| {
                    std::fs::write(&config_file, config_text(&self.settings, Some(&proxy)))
                        .map_err(|error| format!("cannot write {config_file}: {error}"))
                }) {
                    Ok(()) => Ok(GatewayMaster { session: Arc::new(session), config_file }),
                    Err(error) => {
                        let _ = session.close().await;
                        Err(error)
                    }
                }
            }
            Err(error) => Err(error),
        };
        let result =
            master.as_ref().map(|master| master.config_file.clone()).map_err(|error| gateway_error(&key, error));
        gateways.insert(key, master);
        result
    }

    /// Starts a master with `builder`, trying again after handshakes dropped
    /// before the banner (sshd's `MaxStartups`) and up to `connection_attempts`
    /// times after other failures.
    async fn connect_with_retries(
        &self,
        builder: &SessionBuilder,
        destination: &str,
        kept: Option<&Utf8Path>,
    ) -> Result<(Session, Connected), String> {
        let attempts = self.settings.connection_attempts.max(1);
        let mut connected = Connected::default();
        let mut attempt = 1;
        loop {
            // No tokio timeout around this: a cancelled connect leaks the master.
            // `ConnectTimeout` and `BatchMode` make ssh give up by itself.
            let started = match kept {
                Some(slot) => launch_kept(builder, destination, slot).await,
                None => builder.connect_mux(destination).await,
            };
            let error = match started {
                Ok(session) => return Ok((session, connected)),
                Err(error) => describe(&error),
            };
            // A handshake dropped before the banner is sshd shedding load
            // (`MaxStartups`), not a verdict on the host: try again after a
            // randomised pause, so the retries of a storm do not arrive together.
            if dropped_handshake(&error) && connected.dropped_handshakes < MAX_DROPPED_HANDSHAKE_RETRIES {
                connected.dropped_handshakes += 1;
                tokio::time::sleep(retry_pause(connected.dropped_handshakes)).await;
                continue;
            }
            if attempt >= attempts {
                let mut context = Vec::new();
                if attempts > 1 {
                    context.push(format!("tried {attempts} times"));
                }
                if connected.dropped_handshakes > 0 {
                    context.push(format!(
                        "the host dropped {} handshakes during the banner exchange first, which is sshd's \
                         `MaxStartups` limit at work: lower `ssh.connect_concurrency` or set `ssh.connect_rate`",
                        connected.dropped_handshakes
                    ));
                }
                let context = if context.is_empty() { String::new() } else { format!(" ({})", context.join("; ")) };
                return Err(format!("{error}{context}"));
            }
            tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            attempt += 1;
        }
    }

    fn session(&self, index: usize) -> Option<Arc<Session>> {
        self.sessions.lock().expect("not poisoned").get(&index).map(|host| host.session.clone())
    }

    /// `host`'s kept master: reused when it still answers, else started (and
    /// kept). A master that no longer answers is told to exit and forgotten.
    async fn connect_kept(
        &self,
        persist: &PersistDir,
        host: &PlanHost,
        seconds: u32,
    ) -> Result<(Session, Connected), TransportError> {
        let slot = persist.slot(&self.config_text, host.user.as_deref(), &host.host, host.port);
        let socket = slot.join("master");
        if socket.exists() {
            let session = Session::resume_mux(socket.into_std_path_buf().into_boxed_path(), None);
            if session.check().await.is_ok() {
                return Ok((session, Connected::default()));
            }
        }
        let stale = slot.clone();
        let _ = tokio::task::spawn_blocking(move || persist::exit_and_remove(&stale)).await;
        let mut builder = self.builder(host.user.as_deref(), host.port, &self.config_file, false);
        let idle = NonZeroUsize::new(seconds as usize).unwrap_or(NonZeroUsize::MIN);
        builder.control_directory(persist.path()).control_persist(ControlPersist::IdleFor(idle));
        self.connect_with_retries(&builder, &host.host, Some(&slot)).await.map_err(TransportError::Connect)
    }
}

impl Transport for FleetTransport {
    async fn connect(&self, index: usize, host: &PlanHost) -> Result<Connected, TransportError> {
        if host.connection == Connection::Local {
            return Ok(Connected::default());
        }
        // The configuration's choice is the host's own; `--gateway` beats it.
        let gateway = self.settings.forced_gateway.as_ref().or(host.gateway.as_ref());
        let config_file = match gateway {
            Some(gateway) => self.through(gateway).await?,
            None => self.config_file.clone(),
        };
        // Kept only when reached directly: a gateway's master ends with the run.
        let kept = self
            .persist
            .as_ref()
            .zip(self.settings.control_persist)
            .filter(|_| gateway.is_none() && host.launch.is_none());
        let (session, connected) = if let Some((persist, seconds)) = kept {
            self.connect_kept(persist, host, seconds).await?
        } else {
            let builder = self.builder(host.user.as_deref(), host.port, &config_file, host.launch.is_some());
            self.connect_with_retries(&builder, &host.host, None).await.map_err(TransportError::Connect)?
        };
        let session = Arc::new(session);
        // The first phase's shell (see standby.rs); without one, the phase opens its own.
        if let Ok(shell) = open_shell(&session).await {
            self.standbys.put(index, shell);
        }
        self.sessions.lock().expect("not poisoned").insert(index, HostSession { session, kept: kept.is_some() });
        Ok(connected)
    }

    async fn disconnect(&self, index: usize) {
        self.standbys.remove(index);
        let session = self.sessions.lock().expect("not poisoned").remove(&index);
        if let Some(HostSession { session, kept }) = session {
            match Arc::try_unwrap(session) {
                Ok(session) => {
                    // The master exits on its own time after a close; the budget
                    // counts it until it is gone, so wait for its process.
                    let master = master_pid(session.control_socket()).await;
                    let _ = session.close().await;
                    if let Some(pid) = master {
                        wait_for_exit(pid).await;
                    }
                }
                // Still in use (cannot happen between phases); `close` at the end of the run gets it.
                Err(session) => {
                    self.sessions.lock().expect("not poisoned").insert(index, HostSession { session, kept });
                }
            }
        }
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
        let child = match self.standbys.take(index).await {
            Some(shell) => shell,
            None => open_shell(&session).await.map_err(|error| TransportError::Lost(describe(&error)))?,
        };
        self.converse(index, &session, child, (script, None), sink).await
    }

    async fn run_conversing(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        replies: Replies,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        if host.connection == Connection::Local {
            return LocalTransport.run_conversing(index, host, script, replies, sink).await;
        }
        let session =
            self.session(index).ok_or_else(|| TransportError::Other("the host is not connected".to_owned()))?;
        // The waiting `sh -s`, as for any script: what the host asks for comes
        // on the same input after it.
        let child = match self.standbys.take(index).await {
            Some(shell) => shell,
            None => open_shell(&session).await.map_err(|error| TransportError::Lost(describe(&error)))?,
        };
        self.converse(index, &session, child, (script, Some(replies)), sink).await
    }

    fn scripts_after_next(&self, index: usize, left: usize) {
        self.scripts_after.lock().expect("not poisoned").insert(index, left);
    }

    async fn close(&self) {
        // The waiting shells hold their masters.
        self.standbys.clear();
        // Kept masters stay for the next run (a resumed session's drop leaves
        // its master alone); every other is closed.
        let sessions: Vec<Arc<Session>> = self
            .sessions
            .lock()
            .expect("not poisoned")
            .drain()
            .filter(|(_, host)| !host.kept)
            .map(|(_, host)| host.session)
            .collect();
        for session in sessions {
            if let Ok(session) = Arc::try_unwrap(session) {
                // A master that logged something makes close() report it; it is closed all the same.
                let _ = session.close().await;
            }
        }
        // Gateways last: the hosts' connections ran through them.
        let gateways: Vec<GatewayMaster> =
            self.gateways.lock().await.drain().filter_map(|(_, master)| master.ok()).collect();
        for master in gateways {
            if let Ok(session) = Arc::try_unwrap(master.session) {
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
/// than on the command line so the gateway's own connection gets them too. With
/// `proxy`, every host is reached through that command (a gateway's master).
fn config_text(settings: &SshSettings, proxy: Option<&str>) -> String {
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
    if let Some(file) = &settings.known_hosts_file {
        text.push_str(&format!("  UserKnownHostsFile \"{}\"\n", literal(file)));
    }
    if let Some(key) = &settings.identity_file {
        text.push_str(&format!("  IdentityFile \"{}\"\n  IdentitiesOnly yes\n", literal(key)));
    }
    if settings.key_exchange == KeyExchange::Curve25519 {
        text.push_str("  KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n");
    }
    if let Some(proxy) = proxy {
        text.push_str(&format!("  ProxyCommand {proxy}\n"));
    }
    text.push_str("Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n");
    text
}

/// ssh expands `%` tokens in configuration paths and commands: a literal `%` is
/// written `%%`. The configuration refuses `"` and control characters in paths.
fn literal(path: &Utf8Path) -> String {
    path.as_str().replace('%', "%%")
}

/// The `ProxyCommand` that reaches `%h:%p` through the gateway master listening
/// on `socket`: a stdio forward (`-W`) multiplexed over that one authenticated
/// connection, so the gateway sees one login however many hosts are behind it.
/// Should the master be gone, ssh falls back to a new connection to the gateway
/// itself, with the run's configuration (`-F`), never to the host directly.
/// Each word is quoted for the shell ssh runs it with, then `%` doubled.
fn proxy_command(config_file: &Utf8Path, socket: &std::path::Path, gateway: &HostString) -> Result<String, String> {
    let socket = socket.to_str().ok_or("the gateway's control socket path is not UTF-8")?;
    let mut destination =
        format!("ssh://{}", gateway.user.as_deref().map(|user| format!("{user}@")).unwrap_or_default());
    destination.push_str(&if gateway.is_ipv6() { format!("[{}]", gateway.host) } else { gateway.host.clone() });
    if let Some(port) = gateway.port {
        destination.push_str(&format!(":{port}"));
    }
    let quote = |word: &str| {
        deployer_plan::shell::quote(word)
            .map(|quoted| quoted.replace('%', "%%"))
            .map_err(|_| format!("`{word}` cannot be quoted for the shell"))
    };
    Ok(format!("ssh -F {} -S {} -W %h:%p -- {}", quote(config_file.as_str())?, quote(socket)?, quote(&destination)?))
}

/// Starts a master that outlives the run, and moves its directory to `slot`,
/// where the next run finds it. Should another run have put one there first,
/// this one stays where it started and expires on its own.
async fn launch_kept(builder: &SessionBuilder, destination: &str, slot: &Utf8Path) -> Result<Session, openssh::Error> {
    let started = builder.launch_master(destination).await?.keep();
    let home = if std::fs::rename(&started, slot).is_ok() { slot.as_std_path().to_owned() } else { started };
    Ok(Session::resume_mux(home.join("master").into_boxed_path(), Some(home.join("log").into_boxed_path())))
}

fn gateway_error(gateway: &str, error: &str) -> TransportError {
    TransportError::Connect(format!("through the gateway {gateway}: {error}"))
}

fn describe(error: &openssh::Error) -> String {
    let text = error.to_string();
    let detail = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
    let combined = if detail.is_empty() || text.contains(&detail) { text } else { format!("{text}: {detail}") };
    combined.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" / ")
}

/// The process id of the master serving `socket`, asked of the master itself.
async fn master_pid(socket: &std::path::Path) -> Option<u32> {
    let mut connection = openssh_mux_client::Connection::connect(socket).await.ok()?;
    connection.send_alive_check().await.ok().map(std::num::NonZeroU32::get)
}

/// Waits until the master `pid` has exited (a zombie left for a parent that does
/// not reap has exited too: its sockets are closed). A master still there after
/// two seconds (a loaded machine, a channel slow to end) is told to terminate,
/// and waited for up to five seconds more: a connection the budget counts as
/// closed must be closed.
async fn wait_for_exit(pid: u32) {
    let stat = std::path::PathBuf::from(format!("/proc/{pid}/stat"));
    let running = || {
        std::fs::read_to_string(&stat).is_ok_and(|stat| {
            // The state follows the command name, which is in parentheses.
            stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X']))
        })
    };
    for round in 0..1400 {
        if !running() {
            return;
        }
        if round == 400 {
            let pid = pid.to_string();
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", pid.as_str()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether ssh failed because the server closed or reset the connection during
/// the banner exchange: what a client sees when sshd's `MaxStartups` drops it
/// (and what a host still booting shows; both deserve another try).
fn dropped_handshake(error: &str) -> bool {
    ["kex_exchange_identification", "ssh_exchange_identification", "Connection reset by peer"]
        .iter()
        .any(|signature| error.contains(signature))
}

/// The pause before retry `retry` (from 1) of a dropped handshake: exponential
/// from 100 ms, capped at 3.2 s, each drawn uniformly from half to all of it
/// ("equal jitter"), so a storm's retries spread out instead of arriving together.
fn retry_pause(retry: u32) -> Duration {
    let ceiling = 100u64 << retry.saturating_sub(1).min(5);
    Duration::from_millis(ceiling / 2 + fastrand::u64(0..=ceiling / 2))
}

impl FleetTransport {
    /// Sends `script` (then what `replies` brings, if given) to a started remote
    /// shell, streams its output to `sink` while the next phase's shell opens,
    /// and returns its exit status.
    async fn converse(
        &self,
        index: usize,
        session: &Arc<Session>,
        mut child: RemoteShell,
        (script, replies): (String, Option<Replies>),
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        let stdin = child.stdin().take().expect("piped");
        let stdout = child.stdout().take().expect("piped");
        let stderr = child.stderr().take().expect("piped");
        let write = write_input(stdin, script, replies, (Some(Pace::SSH), Some(&self.sending)));
        // The coming phases' shells open while this one runs (see standby.rs):
        // as many as the host runs scripts after this one, at most SHELLS_AHEAD,
        // less those already waiting; after its last script none (it would only
        // wait, then close); one when nobody said (an undo). Failing to open one
        // is not this phase's failure (that phase opens its own), and opening
        // never holds this phase's end up for more than a moment.
        let left = self.scripts_after.lock().expect("not poisoned").remove(&index).unwrap_or(1);
        let opening = left.min(SHELLS_AHEAD).saturating_sub(self.standbys.count(index));
        let mut next = std::pin::pin!(futures::future::join_all((0..opening).map(|_| async {
            if let Ok(shell) = open_shell(session).await {
                self.standbys.put(index, shell);
            }
        })));
        // Read both streams to the end before waiting (openssh-rust/openssh#103).
        let mut io = std::pin::pin!(until_read(write, read_both(stdout, stderr, sink)));
        let mut next_opened = opening == 0;
        let read = loop {
            tokio::select! {
                read = &mut io => break read,
                _ = &mut next, if !next_opened => next_opened = true,
            }
        };
        if !next_opened {
            let _ = tokio::time::timeout(NEXT_SHELL_GRACE, next).await;
        }
        read.map_err(|error| TransportError::Lost(error.to_string()))?;
        match child.wait().await {
            Ok(status) => Ok(status.code().unwrap_or(255)),
            Err(error) => Err(TransportError::Lost(describe(&error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_banner_drops_count_as_dropped_handshakes() {
        assert!(dropped_handshake("kex_exchange_identification: Connection closed by remote host"));
        assert!(dropped_handshake("kex_exchange_identification: read: Connection reset by peer"));
        assert!(!dropped_handshake("Permission denied (publickey)."));
        assert!(!dropped_handshake("Host key verification failed."));
        assert!(!dropped_handshake("ssh: connect to host 127.0.0.1 port 2: Connection refused"));
    }

    #[test]
    fn retry_pauses_grow_and_stay_within_their_jitter_band() {
        for retry in 1..=10 {
            let ceiling = 100u64 << (retry - 1).min(5);
            for _ in 0..50 {
                let pause = u64::try_from(retry_pause(retry).as_millis()).unwrap();
                assert!((ceiling / 2..=ceiling).contains(&pause), "retry {retry}: {pause} ms");
            }
        }
    }
}
