//! The owner record in `.deployer/lock/owner`: who holds an environment's lock.
//!
//! One `key=value` line each for `id`, `user`, `controller`, `pid`, `command` and
//! `started`. The lock steps release a lock only when its record has the exact
//! line [`id_line`] of the run asking, so a run never removes another's lock.

use serde::Serialize;

/// Who holds a lock, as its record says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LockOwner {
    /// The run id: `deployer lock release --id` takes it.
    pub id: String,
    pub user: String,
    pub controller: String,
    /// The holder's process id on its controller, when the record has a valid one.
    pub pid: Option<u32>,
    pub command: String,
    pub started: String,
}

impl LockOwner {
    /// The record's text, one line per field. Values come from the invocation,
    /// which strips control characters; a newline here would split a field, so it
    /// is replaced.
    pub fn record(&self) -> String {
        let pid = self.pid.map(|pid| pid.to_string()).unwrap_or_default();
        let fields = [
            ("id", self.id.as_str()),
            ("user", &self.user),
            ("controller", &self.controller),
            ("pid", &pid),
            ("command", &self.command),
            ("started", &self.started),
        ];
        let mut record = String::new();
        for (key, value) in fields {
            record.push_str(key);
            record.push('=');
            record.push_str(&value.replace(['\n', '\r'], " "));
            record.push('\n');
        }
        record
    }

    /// Reads a record; unknown lines are ignored, a missing field stays empty.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut owner = Self::default();
        for line in lines {
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = value.to_owned();
            match key {
                "id" => owner.id = value,
                "user" => owner.user = value,
                "controller" => owner.controller = value,
                "pid" => owner.pid = value.parse().ok(),
                "command" => owner.command = value,
                "started" => owner.started = value,
                _ => {}
            }
        }
        owner
    }
}

/// The line that proves a record belongs to run `id`.
pub fn id_line(id: &str) -> String {
    format!("id={id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let owner = LockOwner {
            id: "run-1".to_owned(),
            user: "ana".to_owned(),
            controller: "laptop".to_owned(),
            pid: Some(42),
            command: "deploy_full".to_owned(),
            started: "2026-11-23T00:00:00Z".to_owned(),
        };
        let record = owner.record();
        assert!(record.lines().any(|line| line == id_line("run-1")));
        assert_eq!(LockOwner::parse(record.lines()), owner);
    }

    #[test]
    fn hostile_records() {
        let owner = LockOwner { user: "a\nid=someone-else".to_owned(), ..LockOwner::default() };
        let record = owner.record();
        assert!(!record.lines().any(|line| line == id_line("someone-else")), "{record}");
        let parsed = LockOwner::parse(["pid=12; rm -rf /", "junk", "id=x=y"]);
        assert_eq!(parsed.pid, None);
        assert_eq!(parsed.id, "x=y");
    }
}
