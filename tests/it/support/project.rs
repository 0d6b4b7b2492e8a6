//! A project on a real sshd fleet: a git repository, a configuration naming every
//! fleet host, and `deployer` run with HOME isolated from the developer's ssh config.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use deployer_fleet::{DEPLOY_PATH, Fleet, Network, Options};

pub use super::git;

use super::Outcome;

/// Says loudly that a test cannot run here; under CI (`CI=true`) that is a
/// failure, so a machine that lost sshd or root cannot pass silently.
pub fn skip(reason: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "this test must run under CI but cannot: {reason}");
    // Written to the process's stderr directly: `eprintln!` is captured by the test
    // harness and shown only for failing tests, and a skip must be seen.
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {name}: {reason}");
}

pub struct Project {
    /// Dropped first (fields drop in order): the hosts stop and their tmpfs
    /// disks are unmounted before the directory holding them is removed, which
    /// a mounted disk would stop halfway (EBUSY), leaving the project behind.
    pub fleet: Fleet,
    pub directory: tempfile::TempDir,
    /// Seconds after [`CLOCK_START`] that deployer takes as now (`DEPLOYER_NOW`):
    /// the project's injectable clock, advanced by [`Project::tick`].
    clock: AtomicU64,
    /// Per host, the releases deployer did not create that the invariant checker
    /// has seen: none of them may ever disappear.
    foreign: std::sync::Mutex<std::collections::BTreeMap<usize, std::collections::BTreeSet<String>>>,
}

/// The time every project's clock starts at (2026-11-01T00:00:00Z).
const CLOCK_START: u64 = 1_793_491_200;

impl Project {
    pub fn path(&self) -> &Path {
        self.directory.path()
    }

    /// `deployer` in the project, with HOME isolated from the developer's ssh config.
    pub fn deployer(&self) -> Command {
        let mut command = self.fleet.command(env!("CARGO_BIN_EXE_deployer"));
        command.current_dir(self.path()).env("HOME", self.path()).env("NO_COLOR", "1").env_remove("DEPLOYER_CONFIG");
        // AWS tests talk to moto only: fixed credentials, no profile, and never the
        // instance metadata service (whose address is not loopback).
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        let now = i64::try_from(CLOCK_START + self.clock.load(Ordering::SeqCst)).unwrap();
        command.env("DEPLOYER_NOW", jiff::Timestamp::from_second(now).unwrap().to_string());
        command
    }

    /// Records the foreign releases seen on `host` now; calls `gone` with any seen
    /// before that no longer exists.
    pub fn saw_foreign(&self, host: usize, now: &std::collections::BTreeSet<String>, gone: impl Fn(&str)) {
        let mut seen = self.foreign.lock().unwrap();
        let before = seen.entry(host).or_default();
        for release in before.iter().filter(|release| !now.contains(*release)) {
            gone(release);
        }
        before.extend(now.iter().cloned());
    }

    /// Moves the project's clock one second on: the next deploy gets a new release
    /// id (ids have one-second resolution) without the test sleeping.
    pub fn tick(&self) {
        self.clock.fetch_add(1, Ordering::SeqCst);
    }

    /// Sets the project's clock to `seconds` after its start: a controller whose
    /// clock is behind the last deploy's is one `set_clock` away.
    pub fn set_clock(&self, seconds: u64) {
        self.clock.store(seconds, Ordering::SeqCst);
    }

    pub fn host_file(&self, host: usize, path: &str) -> PathBuf {
        self.fleet.hosts[host].files.join(path)
    }

    pub fn current(&self, host: usize) -> Option<String> {
        std::fs::read_link(self.host_file(host, "testing/current"))
            .ok()
            .map(|link| link.file_name().unwrap().to_string_lossy().into_owned())
    }
}

/// A project with a git repository and a configuration naming every fleet host.
/// The roles section of [`project`]: a build that fails where `fail-build` exists,
/// a restart that records itself, a health check.
pub const DEFAULT_ROLES: &str = "  web:\n    build: \"test ! -e /srv/deployer-fleet/fail-build\"\n    restart: \"echo restarted >> /srv/deployer-fleet/restarts\"\n    healthcheck: test -f app.txt\n";

pub fn project(hosts: usize, extra: &str) -> Option<Project> {
    project_with(hosts, DEFAULT_ROLES, extra)
}

/// A project whose `roles:` section is `roles` (indented by two spaces), with
/// `extra` top-level YAML, and maintenance pages next to the configuration.
pub fn project_with(hosts: usize, roles: &str, extra: &str) -> Option<Project> {
    project_on_disks(hosts, roles, extra, None)
}

/// [`project_with`] on hosts whose files are a tmpfs of `(megabytes, inodes)`.
pub fn project_on_disks(hosts: usize, roles: &str, extra: &str, small_disk: Option<(u32, u32)>) -> Option<Project> {
    project_on_fleet(hosts, roles, extra, Options { small_disk, network: Network::Loopback })
}

/// [`project_with`] on hosts that are separate network namespaces, whose links a
/// test can cut, drop or slow.
pub fn project_on_network(hosts: usize, roles: &str, extra: &str) -> Option<Project> {
    project_on_fleet(hosts, roles, extra, Options { small_disk: None, network: Network::Namespaces })
}

fn project_on_fleet(hosts: usize, roles: &str, extra: &str, options: Options) -> Option<Project> {
    let directory = tempfile::Builder::new().prefix("dpf").tempdir().unwrap();
    if let Some(reason) = Fleet::unavailable_with(options) {
        skip(&reason);
        return None;
    }
    let fleet = Fleet::start_with(hosts, &directory.path().join("fleet"), options).expect("the fleet starts");
    let host_list: Vec<String> =
        fleet.hosts.iter().map(|host| format!("\"{}\"", host.host_string(&fleet.user))).collect();
    let environments = format!(
        "environments:\n\
         \x20 testing:\n\
         \x20   branch: main\n\
         \x20   roles:\n\
         \x20     web: [{hosts}]\n",
        hosts = host_list.join(", "),
    );
    Some(Project::new(directory, fleet, roles, extra, &environments))
}

impl Project {
    /// A project in `directory` on `fleet`: a git repository with one commit, a
    /// configuration with `roles`, `extra` top-level YAML and `environments` (the
    /// whole `environments:` section), and maintenance pages.
    pub fn new(directory: tempfile::TempDir, fleet: Fleet, roles: &str, extra: &str, environments: &str) -> Self {
        let source = directory.path().join("source");
        std::fs::create_dir_all(&source).unwrap();
        git(&source, &["init", "-q"]);
        std::fs::write(source.join("app.txt"), "v1\n").unwrap();
        git(&source, &["add", "."]);
        git(&source, &["commit", "-q", "-m", "v1"]);
        let config = format!(
            "project: demo\n\
             repo: {source}\n\
             deploy_root: {DEPLOY_PATH}\n\
             valid_roles: [web]\n\
             roles:\n\
             {roles}\
             ssh:\n\
             \x20 known_hosts_file: {known_hosts}\n\
             \x20 identity_file: {key}\n\
             \x20 connect_timeout: 5\n\
             {extra}\
             {environments}",
            source = source.display(),
            known_hosts = fleet.known_hosts().display(),
            key = fleet.client_key().display(),
        );
        std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
        std::fs::write(directory.path().join("503.html"), "down for maintenance\n").unwrap();
        std::fs::write(directory.path().join("healthcheck.html"), "OK\n").unwrap();
        Project { directory, fleet, clock: AtomicU64::new(0), foreign: std::sync::Mutex::default() }
    }
}

/// No ssh process and no control socket of the run with `pid` may remain.
pub fn nothing_left_behind(pid: u32) {
    let control = format!("/tmp/deployer-0/{pid}");
    assert!(!Path::new(&control).exists(), "the control directory {control} was left behind");
    // A gateway's `ssh -W` helper ends a few milliseconds after its master.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        // With the slash: run 123's pattern must not match run 1234's sockets.
        let processes = Command::new("pgrep").args(["-af", &format!("{control}/")]).output().unwrap();
        let listed = String::from_utf8_lossy(&processes.stdout).into_owned();
        if listed.trim().is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "ssh processes left behind:\n{listed}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn run_and_check(project: &Project, args: &[&str]) -> Outcome {
    let child = project.deployer().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    finish(child)
}

/// Waits for a run started with piped output, then checks it left nothing behind.
pub fn finish(child: std::process::Child) -> Outcome {
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    nothing_left_behind(pid);
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Project {
    /// Commits a new version of the app, a second later on the project's clock.
    /// Adds top-level YAML to the end of the configuration (keys that need the
    /// fleet's addresses, known only once it started).
    pub fn append_config(&self, yaml: &str) {
        use std::io::Write;
        let path = self.path().join("fabulaws-config.yml");
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(yaml.as_bytes()).unwrap();
    }

    pub fn next_version(&self, content: &str) {
        self.commit(content);
        self.tick();
    }

    /// Commits a new version of the app.
    pub fn commit(&self, content: &str) {
        let source = self.path().join("source");
        std::fs::write(source.join("app.txt"), content).unwrap();
        git(&source, &["add", "."]);
        git(&source, &["commit", "-q", "-m", content]);
    }

    /// A file of the release `current` points at on `host` (read from outside the
    /// host's mount namespace, so through `releases/`).
    pub fn current_file(&self, host: usize, path: &str) -> Option<String> {
        let release = self.current(host)?;
        std::fs::read_to_string(self.host_file(host, &format!("testing/releases/{release}/{path}"))).ok()
    }

    pub fn lines(&self, host: usize, path: &str) -> Vec<String> {
        std::fs::read_to_string(self.host_file(host, path)).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

/// Roles whose restart holds while a `hold` file exists on the host, after saying
/// so (`holding`): a gate that stops a deploy just after the switch, without sleeps.
pub fn held_restart_roles() -> String {
    format!(
        "  web:\n\
         \x20   restart: \"if [ -e {DEPLOY_PATH}/hold ]; then touch {DEPLOY_PATH}/holding; while [ -e {DEPLOY_PATH}/hold ]; do sleep 0.05; done; fi\"\n\
         \x20   healthcheck: test -f app.txt\n"
    )
}

/// Roles whose build waits at a gate (`go`) after saying it started (`building`).
pub fn gated_build_roles() -> String {
    format!(
        "  web:\n\
         \x20   build: \"touch {DEPLOY_PATH}/building; while [ ! -e {DEPLOY_PATH}/go ]; do sleep 0.05; done\"\n\
         \x20   restart: \"true\"\n\
         \x20   healthcheck: test -f app.txt\n"
    )
}

/// Every file under `path`, recursively.
pub fn walk(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

/// Waits (30 s at most) for a file a gate or a step creates.
pub fn wait_for(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl Project {
    /// Starts `deployer ARGS` in the background (stderr captured).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.deployer().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }
}

/// Sends `signal` (`INT`, `KILL`, ...) to a process.
pub fn signal(pid: u32, signal: &str) {
    Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
}

impl Project {
    /// Runs `deploy_full` with host 0's restart held (see [`held_restart_roles`]),
    /// calls `while_holding` once the switch happened and the restart holds, then
    /// SIGKILLs the controller, lets the restart go and cleans up after the kill.
    pub fn kill_deploy_after_the_switch(&self, while_holding: impl FnOnce()) {
        std::fs::write(self.host_file(0, "hold"), "").unwrap();
        let mut child = self
            .deployer()
            .args(["deploy_full", "testing"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&self.host_file(0, "holding"));
        while_holding();
        signal(child.id(), "KILL");
        let _ = child.wait();
        std::fs::remove_file(self.host_file(0, "hold")).unwrap();
        // SIGKILL leaves the masters; ControlPersist ends them, the test does it now.
        clean_up_killed(child.id());
    }
}

/// After a run was SIGKILLed: ends the ssh masters it left (ControlPersist would,
/// later) and removes its control directory, so a later run that happens to get
/// the same pid is not blamed for it by [`nothing_left_behind`].
pub fn clean_up_killed(pid: u32) {
    let control = format!("/tmp/deployer-0/{pid}");
    let _ = Command::new("pkill").args(["-f", &control]).status();
    let _ = std::fs::remove_dir_all(&control);
}

/// A child's standard error, read line by line as it comes, so a test can wait
/// for what deployer says instead of sleeping.
pub struct StderrLines {
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<Vec<String>>,
}

impl StderrLines {
    pub fn follow(child: &mut std::process::Child) -> Self {
        use std::io::BufRead;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send(line.clone());
                all.push(line);
            }
            all
        });
        Self { lines, reader }
    }

    /// Waits (30 s at most) for a line that `matches`.
    pub fn wait_for_line(&self, matches: impl Fn(&str) -> bool) {
        loop {
            let line = self.lines.recv_timeout(std::time::Duration::from_secs(30)).expect("the line never came");
            if matches(&line) {
                return;
            }
        }
    }

    /// Everything the child wrote, once it has exited.
    pub fn all(self) -> String {
        self.reader.join().unwrap().join("\n")
    }
}
