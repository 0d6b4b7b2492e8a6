//! What a host prints about its deploy state, and the one parser for it.
//!
//! `scripts/lib/report.sh` writes these lines (`report_state`):
//!
//! ```text
//! DEPLOYER-STATE current=<release>            what `current` points at, inside releases/
//! DEPLOYER-STATE current_elsewhere=<target>   `current` points outside releases/
//! DEPLOYER-STATE previous=<release>           what `current` pointed at before the last switch
//! DEPLOYER-STATE release=<name>               one per directory in releases/
//! DEPLOYER-STATE complete=<release>           one per completion marker
//! DEPLOYER-STATE created=<release>            one per release a deployer run created
//! DEPLOYER-STATE maintenance=up|down          whether the 503 page is up
//! DEPLOYER-STATE lock=held|free
//! DEPLOYER-STATE armed=<deploy id>            a dead-man's switch armed, not yet confirmed
//! DEPLOYER-LOCK <owner record line>           the lock's owner record, line by line
//! DEPLOYER-HISTORY <history line>             the newest lines of .deployer/history
//! ```
//!
//! Values are checked as they are read: a release name that is not one is counted
//! in [`HostReport::unreadable`], never used.

use std::collections::BTreeSet;

use super::history::{self, Entry};
use super::is_release_name;
use super::lock_owner::LockOwner;

const STATE: &str = "DEPLOYER-STATE ";

/// A deploy id as deployer makes them (`20261123T010203Z-4242ab`): checked before
/// a value read back from a host is shown.
fn is_deploy_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}
const LOCK: &str = "DEPLOYER-LOCK ";
const HISTORY: &str = "DEPLOYER-HISTORY ";

/// One host's state, from its `report_state` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostReport {
    /// The release `current` points at; `None` when there is no `current`.
    pub current: Option<String>,
    /// Where `current` points when that is not a directory in `releases/`
    /// (someone else's layout, or a hand-made link).
    pub current_elsewhere: Option<String>,
    pub previous: Option<String>,
    /// Every directory in `releases/`, complete or not, deployer's or not.
    pub releases: BTreeSet<String>,
    /// Releases with a completion marker: the ones that can become `current`.
    pub complete: BTreeSet<String>,
    /// Releases a deployer run created (and recorded as its own).
    pub created: BTreeSet<String>,
    /// Whether the maintenance page is up, when the report said.
    pub maintenance_up: Option<bool>,
    /// Whether the report said anything about the lock.
    pub lock_held: Option<bool>,
    /// Deploys whose dead-man's switch is armed on this host (not yet confirmed).
    pub armed: BTreeSet<String>,
    pub(crate) lock_lines: Vec<String>,
    /// The newest history entries, oldest first.
    pub history: Vec<Entry>,
    /// Protocol lines whose values were not valid (damaged or hostile files).
    pub unreadable: usize,
}

impl HostReport {
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut report = Self::default();
        for line in lines {
            report.push_line(line);
        }
        report
    }

    /// Takes one line of the host's standard output. Returns whether it was one of
    /// this protocol's lines.
    pub fn push_line(&mut self, line: &str) -> bool {
        if let Some(rest) = line.strip_prefix(HISTORY) {
            let (entries, unreadable) = history::parse_all([rest]);
            self.history.extend(entries);
            self.unreadable += unreadable;
        } else if let Some(rest) = line.strip_prefix(LOCK) {
            self.lock_lines.push(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix(STATE) {
            if !self.push_state(rest) {
                self.unreadable += 1;
            }
        } else {
            return false;
        }
        true
    }

    fn push_state(&mut self, field: &str) -> bool {
        let Some((key, value)) = field.split_once('=') else { return false };
        let release = || is_release_name(value).then(|| value.to_owned());
        match key {
            "current" => {
                self.current = release();
                self.current.is_some()
            }
            "current_elsewhere" => {
                self.current_elsewhere = Some(value.to_owned());
                true
            }
            "previous" if value.is_empty() => true,
            "previous" => {
                self.previous = release();
                self.previous.is_some()
            }
            "release" => release().map(|name| self.releases.insert(name)).is_some(),
            "complete" => release().map(|name| self.complete.insert(name)).is_some(),
            "created" => release().map(|name| self.created.insert(name)).is_some(),
            "armed" => is_deploy_id(value) && self.armed.insert(value.to_owned()),
            "maintenance" => match value {
                "up" | "down" => {
                    self.maintenance_up = Some(value == "up");
                    true
                }
                _ => false,
            },
            "lock" => match value {
                "held" => {
                    self.lock_held = Some(true);
                    true
                }
                "free" => {
                    self.lock_held = Some(false);
                    true
                }
                _ => false,
            },
            _ => true, // a newer script's field
        }
    }

    /// The lock's owner, when the lock is held.
    pub fn lock_owner(&self) -> Option<LockOwner> {
        (self.lock_held == Some(true)).then(|| LockOwner::parse(self.lock_lines.iter().map(String::as_str)))
    }

    /// Releases in `releases/` that deployer did not create: an adopted layout's
    /// (Capistrano, Deployer-PHP, by hand). deployer never removes them.
    pub fn foreign(&self) -> Vec<&str> {
        self.releases
            .iter()
            .filter(|name| !self.complete.contains(*name) && !self.created.contains(*name))
            .map(String::as_str)
            .collect()
    }

    /// The commit `release` was built from, as the history says.
    pub fn commit_of(&self, release: &str) -> Option<&str> {
        self.history.iter().rev().filter(|entry| entry.release == release).find_map(|entry| entry.commit.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// The shell writer and this reader agree: `report_state` runs on a real layout.
    #[test]
    fn reads_what_report_sh_writes() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        for release in ["r1", "r2", "foreign"] {
            std::fs::create_dir_all(root.join("releases").join(release)).unwrap();
        }
        std::fs::create_dir_all(root.join(".deployer/complete")).unwrap();
        std::fs::create_dir_all(root.join(".deployer/lock")).unwrap();
        for release in ["r1", "r2"] {
            std::fs::write(root.join(".deployer/complete").join(release), "").unwrap();
        }
        std::fs::write(root.join(".deployer/lock/owner"), "id=run-7\nuser=ana\npid=3\n").unwrap();
        std::fs::write(root.join(".deployer/previous"), "r1\n").unwrap();
        std::fs::create_dir_all(root.join(".deployer/revert")).unwrap();
        for marker in ["20261123T010203Z-4242", "20261122T000000Z-1.reverted", "log"] {
            std::fs::write(root.join(".deployer/revert").join(marker), "").unwrap();
        }
        let entry = Entry {
            event: history::EventKind::Deployed,
            release: "r2".to_owned(),
            commit: Some("abcdef1".to_owned()),
            deploy_id: None,
            at: None,
            user: Some("tab\there".to_owned()),
            migrations: Some(false),
            command: None,
        };
        std::fs::write(root.join(".deployer/history"), format!("{}\nnot a history line\n", entry.to_line())).unwrap();
        std::os::unix::fs::symlink(root.join("releases/r2"), root.join("current")).unwrap();
        let root = root.to_str().unwrap();
        let script = format!(
            "set -eu\nroot={root}\nreleases=$root/releases\ncurrent=$root/current\nprevious=$root/.deployer/previous\n\
             complete=$root/.deployer/complete\ncreated=$root/.deployer/created\nmaintenance_page=$root/maintenance/503.html\nlock=$root/.deployer/lock\nlock_owner=$lock/owner\nhistory=$root/.deployer/history\nrevert=$root/.deployer/revert\n{}\nreport_state\n",
            include_str!("../../scripts/lib/report.sh")
        );
        let output = Command::new("sh").arg("-c").arg(script).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let report = HostReport::parse(stdout.lines());
        assert_eq!(report.current.as_deref(), Some("r2"));
        assert_eq!(report.previous.as_deref(), Some("r1"));
        assert_eq!(report.releases.len(), 3);
        assert_eq!(report.complete.iter().collect::<Vec<_>>(), ["r1", "r2"]);
        assert_eq!(report.lock_owner().unwrap().id, "run-7");
        assert_eq!(report.maintenance_up, Some(false));
        assert_eq!(
            report.armed.iter().collect::<Vec<_>>(),
            ["20261123T010203Z-4242"],
            "not the reverted one, not the log"
        );
        assert_eq!(report.history, [entry]);
        assert_eq!(report.commit_of("r2"), Some("abcdef1"));
        assert_eq!(report.unreadable, 1, "the line that is not history");
    }

    #[test]
    fn hostile_values_are_not_used() {
        let report = HostReport::parse([
            "DEPLOYER-STATE current=../../etc",
            "DEPLOYER-STATE previous=$(reboot)",
            "DEPLOYER-STATE complete=-rf",
            "DEPLOYER-STATE lock=maybe",
            "DEPLOYER-STATE current_elsewhere=/opt/app\u{1b}[2J",
            "DEPLOYER-STATE future_field=1",
            "ordinary output",
        ]);
        assert_eq!(report.current, None);
        assert_eq!(report.previous, None);
        assert!(report.complete.is_empty());
        assert_eq!(report.lock_held, None);
        assert_eq!(report.current_elsewhere.as_deref(), Some("/opt/app\u{1b}[2J"), "kept, and escaped when shown");
        assert_eq!(report.unreadable, 4);
    }

    #[test]
    fn a_free_lock_has_no_owner() {
        let report = HostReport::parse(["DEPLOYER-STATE lock=free", "DEPLOYER-LOCK id=ghost"]);
        assert_eq!(report.lock_owner(), None);
    }
}
