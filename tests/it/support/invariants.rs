//! The invariants every fault scenario ends with, checked by one function.
//!
//! After any run, whatever went wrong:
//! - every host's `current` resolves to a complete release;
//! - every host is on the release the scenario expects: one release everywhere,
//!   unless the exit code says partial (4) and the output names each host left apart;
//! - the previous and last known-good releases a host records still exist;
//! - no lock is left, except on hosts the scenario cut off, and then the output
//!   reports the lock's id;
//! - no temporary link, no unfinished release (except where a cut-off run left
//!   one, which the next deploy removes), and no maintenance page up;
//! - no step still running on a reachable host;
//! - no secret value in deployer's output or logs (the controller's processes and
//!   sockets are checked by [`super::project::nothing_left_behind`]), and no file
//!   on a host that holds one is readable by other users;
//! - no release deployer did not create (an adopted layout's) ever disappears;
//! - `previous` is not `current` unless the host has only one release.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use super::Outcome;
use super::project::{Project, walk};

/// What a scenario expects of the fleet.
pub struct Expect {
    /// The release every host is on, except those in `apart`.
    release: String,
    /// Hosts a partial run left on its new release, and that release.
    apart: Vec<(usize, String)>,
    /// Releases that must still exist on every host (earlier ones kept for rollback).
    kept: Vec<String>,
    /// Hosts the scenario cut off. Such a host may keep the run's lock (which the
    /// output must report with its id), its unfinished release, and the session
    /// sshd keeps until it learns the connection is gone.
    cut_off: BTreeSet<usize>,
}

impl Expect {
    pub fn all_on(release: &str) -> Self {
        Self { release: release.to_owned(), apart: Vec::new(), kept: Vec::new(), cut_off: BTreeSet::new() }
    }

    /// No host has a release yet (and the run must not have left one).
    pub fn nothing_deployed() -> Self {
        Self::all_on("")
    }

    /// A partial run (exit code 4): the hosts `on_new` were left on `new`, and the
    /// output must name each of them; every other host is on `old`.
    pub fn partial(old: &str, new: &str, on_new: &[usize]) -> Self {
        let mut expect = Self::all_on(old);
        expect.apart = on_new.iter().map(|host| (*host, new.to_owned())).collect();
        expect
    }

    pub fn keeping(mut self, release: &str) -> Self {
        self.kept.push(release.to_owned());
        self
    }

    pub fn cut_off(mut self, host: usize) -> Self {
        self.cut_off.insert(host);
        self
    }

    fn release_of(&self, host: usize) -> &str {
        self.apart.iter().find(|(apart, _)| *apart == host).map_or(self.release.as_str(), |(_, release)| release)
    }
}

/// Checks every invariant on `hosts` hosts after a run that produced `outcome`.
pub fn check_fleet(project: &Project, hosts: usize, outcome: &Outcome, expect: &Expect) {
    let said = format!("{}{}", outcome.stdout, outcome.stderr);
    if expect.apart.is_empty() {
        assert_ne!(outcome.code, 4, "one release everywhere, yet the exit code says partial:\n{said}");
    } else {
        assert_eq!(outcome.code, 4, "hosts are on different releases, so the exit code must say partial:\n{said}");
    }
    for host in 0..hosts {
        let name = project.fleet.hosts[host].address.to_string();
        let release = expect.release_of(host);
        if expect.apart.iter().any(|(apart, _)| *apart == host) {
            assert!(said.contains(&name), "host {host} is left on {release} but the output does not name it:\n{said}");
        }
        if release.is_empty() {
            assert_eq!(project.current(host), None, "host {host} ({name}) has a release but must not");
        } else {
            assert_eq!(project.current(host).as_deref(), Some(release), "host {host} ({name}) is not on {release}");
        }
        for must_exist in [
            Some(release.to_owned()).filter(|release| !release.is_empty()),
            previous(project, host),
            last_good(project, host),
        ]
        .into_iter()
        .flatten()
        .chain(expect.kept.iter().cloned())
        {
            let adopted = foreign_releases(project, host).contains(&must_exist);
            assert!(
                adopted || is_complete(project, host, &must_exist),
                "host {host}: release {must_exist} is gone or incomplete"
            );
        }
        assert!(!project.host_file(host, "testing/.current.deployer-tmp").exists(), "host {host}: temporary link left");
        assert!(!project.host_file(host, "testing/maintenance/503.html").exists(), "host {host}: maintenance page up");
        let cut_off = expect.cut_off.contains(&host);
        match lock_id(project, host) {
            Some(id) if cut_off => {
                // Reported as this run's lock, on this host, with the command that frees it.
                let reported = said.lines().any(|line| {
                    line.contains(&format!("(id {id}) may remain")) && (line.contains(&name) || !line.contains(" on:"))
                }) && said.contains(&format!("--id {id}"));
                assert!(reported, "host {host}: lock {id} left but not reported:\n{said}");
            }
            Some(id) => panic!("host {host}: lock {id} left behind"),
            None => assert!(!project.host_file(host, "testing/.deployer/lock").exists(), "host {host}: lock left"),
        }
        let foreign = foreign_releases(project, host);
        if !cut_off {
            for release in releases(project, host).into_iter().filter(|release| !foreign.contains(release)) {
                assert!(is_complete(project, host, &release), "host {host}: unfinished release {release} left");
            }
            no_step_running(project, host);
        }
        project.saw_foreign(host, &foreign, |gone| {
            panic!("host {host}: release {gone}, which deployer did not create, is gone")
        });
        let complete =
            releases(project, host).into_iter().filter(|release| is_complete(project, host, release)).count();
        if let (Some(current), Some(previous)) = (project.current(host), previous(project, host))
            && complete > 1
        {
            assert_ne!(current, previous, "host {host}: previous is current");
        }
        no_readable_secret_file(project, host);
    }
    no_secret_escaped(project, &said);
}

/// Releases on `host` with neither a completion marker nor a record of the run
/// that created them: another tool's, which deployer never removes.
fn foreign_releases(project: &Project, host: usize) -> BTreeSet<String> {
    releases(project, host)
        .into_iter()
        .filter(|release| {
            !project.host_file(host, &format!("testing/.deployer/complete/{release}")).exists()
                && !project.host_file(host, &format!("testing/.deployer/created/{release}")).exists()
        })
        .collect()
}

/// Every file on `host` that holds one of the project's secrets is unreadable to
/// other users.
fn no_readable_secret_file(project: &Project, host: usize) {
    use std::os::unix::fs::PermissionsExt;
    let secrets = secret_values(project);
    if secrets.is_empty() {
        return;
    }
    for file in walk(&project.host_file(host, "testing")) {
        let Ok(metadata) = std::fs::symlink_metadata(&file) else { continue };
        if !metadata.is_file() || metadata.len() > 1 << 20 {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        if secrets.iter().any(|secret| text.contains(secret)) {
            assert_eq!(
                metadata.permissions().mode() & 0o004,
                0,
                "{} holds a secret and others can read it",
                file.display()
            );
        }
    }
}

/// The id in the lock's owner record on `host`, if the lock is there.
pub fn lock_id(project: &Project, host: usize) -> Option<String> {
    let owner = std::fs::read_to_string(project.host_file(host, "testing/.deployer/lock/owner")).ok()?;
    owner.lines().find_map(|line| line.strip_prefix("id=")).map(str::to_owned)
}

fn is_complete(project: &Project, host: usize, release: &str) -> bool {
    project.host_file(host, &format!("testing/releases/{release}")).is_dir()
        && project.host_file(host, &format!("testing/.deployer/complete/{release}")).exists()
}

/// The releases in `host`'s releases/: not deployer's hidden entries there (the
/// prune's `.deployer-pruned/`, a push's `.<release>.tar`).
fn releases(project: &Project, host: usize) -> Vec<String> {
    std::fs::read_dir(project.host_file(host, "testing/releases"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn previous(project: &Project, host: usize) -> Option<String> {
    let text = std::fs::read_to_string(project.host_file(host, "testing/.deployer/previous")).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| Path::new(text).file_name().unwrap().to_string_lossy().into_owned())
}

/// The release the history says is live (the newest deployed or rolled back to).
fn last_good(project: &Project, host: usize) -> Option<String> {
    let history = std::fs::read_to_string(project.host_file(host, "testing/.deployer/history")).ok()?;
    let (entries, _) = deployer_plan::protocol::history::parse_all(history.lines());
    let live = deployer_plan::protocol::captured::live_releases(&entries);
    live.last().map(|entry| entry.release.clone())
}

/// Nothing the run started may still run on the host (sshd ends a session's
/// processes within moments of the session closing).
fn no_step_running(project: &Project, host: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running = project.fleet.host_processes(host);
        if running.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "host {host}: processes still running:\n{}", running.join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The values of the project's secrets file, if it has one.
fn secret_values(project: &Project) -> Vec<String> {
    let text = std::fs::read_to_string(project.path().join("fabsecrets_testing.py")).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

fn no_secret_escaped(project: &Project, said: &str) {
    for secret in secret_values(project) {
        assert!(!said.contains(&secret), "a secret appeared in deployer's output");
        for log in walk(&project.path().join(".deployer/logs")) {
            let text = std::fs::read(&log).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&text).contains(&secret),
                "a secret appeared in the log {}",
                log.display()
            );
        }
    }
}

/// Gives a project a secret whose value must never leave its files: call before
/// deploying a project whose configuration has `CANARY_CONFIG`.
pub fn plant_canary(project: &Project) {
    std::fs::write(project.path().join("env.j2"), "API_KEY={{ secrets.api_key }}\n").unwrap();
    std::fs::write(project.path().join("fabsecrets_testing.py"), format!("api_key = \"{CANARY}\"\n")).unwrap();
}

pub const CANARY: &str = "canary-7d2b-91fe-never-print";

/// Configuration (top-level YAML) for a secret rendered into a 0600 file.
pub const CANARY_CONFIG: &str =
    "password_names: [api_key]\ntemplates:\n  - {src: env.j2, dest: app.env, mode: \"0600\"}\n";
