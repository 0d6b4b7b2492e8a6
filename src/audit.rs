//! The project's audit log: `.deployer/audit.jsonl` next to the configuration,
//! one JSON object per run of a command that changes hosts (who, when, what,
//! which commit and release, the result, the hosts). Append-only: each entry is
//! one `write` of one line to a file opened with `O_APPEND`, so runs never
//! interleave, and nothing rewrites it. Only this machine's runs are in it.
//!
//! Format version 1 (`"v": 1`); readers skip lines they cannot read and fields
//! they do not know. This module writes it and reads it (`deployer plan` asks it
//! what was last shipped to an environment).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

pub(crate) const VERSION: u32 = 1;

/// One run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub v: u32,
    /// When the run finished (UTC, RFC 3339).
    pub at: String,
    pub deploy_id: String,
    pub user: String,
    pub controller: String,
    pub command: String,
    pub deployment: String,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// `success`, `failed`, `rolled_back`, `partial`, `locked`, `interrupted`, `refused`.
    pub result: String,
    pub exit_code: i32,
    pub duration_ms: u64,
    pub hosts: Vec<String>,
}

impl Entry {
    /// Whether this run put `commit` live on its hosts.
    pub(crate) fn shipped(&self) -> bool {
        self.result == "success"
            && matches!(self.command.as_str(), "deploy_full" | "deploy_serial" | "create_environment" | "resume")
            && self.commit.is_some()
    }
}

pub(crate) fn path(config_directory: &Utf8Path) -> Utf8PathBuf {
    config_directory.join(".deployer").join("audit.jsonl")
}

/// Appends `entry` as one line (the file is the user's own: 0600).
pub(crate) fn append(config_directory: &Utf8Path, entry: &Entry) -> std::io::Result<()> {
    let directory = config_directory.join(".deployer");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&directory)?;
    let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path(config_directory))?;
    file.write_all(line.as_bytes())
}

/// Every entry it can read, oldest first.
pub(crate) fn read(config_directory: &Utf8Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path(config_directory)).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Entry>(line).ok())
        .filter(|entry| entry.v == VERSION)
        .collect()
}

/// The newest run from this machine that shipped a commit to the environment.
pub(crate) fn last_shipped(config_directory: &Utf8Path, deployment: &str, environment: &str) -> Option<Entry> {
    read(config_directory)
        .into_iter()
        .rev()
        .find(|entry| entry.shipped() && entry.deployment == deployment && entry.environment == environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(command: &str, result: &str, commit: &str) -> Entry {
        Entry {
            v: VERSION,
            at: "2026-11-28T00:00:00Z".to_owned(),
            deploy_id: "20261128T000000Z-1".to_owned(),
            user: "ana".to_owned(),
            controller: "laptop".to_owned(),
            command: command.to_owned(),
            deployment: "shop".to_owned(),
            environment: "staging".to_owned(),
            commit: Some(commit.to_owned()),
            release: Some(format!("20261128T000000Z-{}", &commit[..7])),
            result: result.to_owned(),
            exit_code: 0,
            duration_ms: 1200,
            hosts: vec!["web1".to_owned()],
        }
    }

    #[test]
    fn appends_lines_and_finds_the_last_shipped_commit() {
        let directory = tempfile::tempdir().unwrap();
        let directory = Utf8Path::from_path(directory.path()).unwrap();
        append(directory, &entry("deploy_full", "success", "aaaaaaaaaa")).unwrap();
        append(directory, &entry("deploy_full", "failed", "bbbbbbbbbb")).unwrap();
        append(directory, &entry("run", "success", "cccccccccc")).unwrap();
        std::fs::OpenOptions::new().append(true).open(path(directory)).unwrap().write_all(b"not json\n").unwrap();
        let entries = read(directory);
        assert_eq!(entries.len(), 3, "the damaged line is skipped");
        let last = last_shipped(directory, "shop", "staging").unwrap();
        assert_eq!(last.commit.as_deref(), Some("aaaaaaaaaa"), "failed runs and ad-hoc commands ship nothing");
        assert_eq!(last_shipped(directory, "shop", "production"), None);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(directory)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
