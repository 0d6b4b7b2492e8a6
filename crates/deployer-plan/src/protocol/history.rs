//! `.deployer/history`: one line per event on each host, appended by the scripts,
//! never rewritten. The order of its lines is the order in which releases went
//! live, which is what rollback follows (never release ids or clocks).
//!
//! Version 2, one event per line, `key=value` fields separated by tabs (shown as
//! `<TAB>`) after a version tag, `release` always last:
//!
//! ```text
//! v2 <TAB> event=deployed <TAB> commit=<sha> <TAB> deploy=<run id> <TAB> at=<RFC 3339> <TAB> user=<name> <TAB> migrations=yes <TAB> command=deploy_full <TAB> release=<id>
//! ```
//!
//! The events: `prepared` (built and complete on this host, not live), `deployed`
//! and `rolled-back` (went live: the only events rollback follows), and
//! `switched-back` (a deploy's switch was undone after the release went live here).
//! A deploy's release id names the attempt: `resume` finds a release that was
//! prepared and never went live by these lines.
//!
//! Values are percent-escaped (`%`, tab, newline, carriage return and other
//! control characters), so a field never spans lines or columns. Readers ignore
//! keys they do not know, and lines of versions they do not know, so the format
//! can grow. Version 1 lines (`id <TAB> commit <TAB> at <TAB> user <TAB> event <TAB> migrate=yes|no`, written
//! before this module existed) are still read.

use std::fmt::Write;

use super::{is_commit, is_release_name};

/// The version tag this module writes.
const VERSION: &str = "v2";

/// What happened to a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Built and marked complete; not live yet.
    Prepared,
    /// Went live in a deploy that finished.
    Deployed,
    /// Went live again in a rollback.
    RolledBack,
    /// Was live here during a deploy that then switched back (it failed after the
    /// switch): this attempt is over, so it is not resumable.
    SwitchedBack,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Prepared => "prepared",
            Self::Deployed => "deployed",
            Self::RolledBack => "rolled-back",
            Self::SwitchedBack => "switched-back",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "prepared" => Some(Self::Prepared),
            "deployed" => Some(Self::Deployed),
            "rolled-back" | "rolled-back-to" => Some(Self::RolledBack),
            "switched-back" => Some(Self::SwitchedBack),
            _ => None,
        }
    }
}

/// One history line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub event: EventKind,
    /// A valid release name ([`is_release_name`]).
    pub release: String,
    /// The commit, when the event ships one ([`is_commit`]).
    pub commit: Option<String>,
    /// The run that wrote the line.
    pub deploy_id: Option<String>,
    pub at: Option<String>,
    pub user: Option<String>,
    /// Whether the deploy that made this release ran migrations.
    pub migrations: Option<bool>,
    /// The command that shipped the release (`deploy_full`, `deploy_serial`): what
    /// `resume` continues.
    pub command: Option<String>,
}

impl Entry {
    /// The line for this entry, without its newline.
    pub fn to_line(&self) -> String {
        let mut line = self.line_before_release();
        line.push_str(&self.release);
        line
    }

    /// Everything up to and including `release=`: the line of an entry whose release
    /// is known only on the host when the step runs (the rollback target).
    pub fn line_before_release(&self) -> String {
        let mut line = format!("{VERSION}\tevent={}", self.event.as_str());
        let fields = [
            ("commit", self.commit.as_deref()),
            ("deploy", self.deploy_id.as_deref()),
            ("at", self.at.as_deref()),
            ("user", self.user.as_deref()),
            ("migrations", self.migrations.map(|ran| if ran { "yes" } else { "no" })),
            ("command", self.command.as_deref()),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                let _ = write!(line, "\t{key}={}", escape(value));
            }
        }
        line.push_str("\trelease=");
        line
    }

    /// Reads one line of either version. `None` for a line this version does not
    /// understand or whose values are not what they claim to be.
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line.split_once('\t') {
            Some((VERSION, rest)) => Self::parse_v2(rest),
            Some((tag, _)) if tag.starts_with('v') && tag[1..].bytes().all(|byte| byte.is_ascii_digit()) => None,
            _ => Self::parse_v1(line),
        }
    }

    fn parse_v2(fields: &str) -> Option<Self> {
        let mut entry = Self {
            event: EventKind::Prepared,
            release: String::new(),
            commit: None,
            deploy_id: None,
            at: None,
            user: None,
            migrations: None,
            command: None,
        };
        let mut event = None;
        for field in fields.split('\t') {
            let (key, value) = field.split_once('=')?;
            let value = unescape(value)?;
            match key {
                "event" => event = Some(EventKind::parse(&value)?),
                "release" => entry.release = value,
                "commit" => entry.commit = Some(value),
                "deploy" => entry.deploy_id = Some(value),
                "at" => entry.at = Some(value),
                "user" => entry.user = Some(value),
                "migrations" => entry.migrations = Some(parse_yes_no(&value)?),
                "command" => entry.command = Some(value),
                _ => {} // a newer writer's field
            }
        }
        entry.event = event?;
        entry.validated()
    }

    fn parse_v1(line: &str) -> Option<Self> {
        let columns: Vec<&str> = line.split('\t').collect();
        let [release, commit, at, user, event, migrate] = columns.as_slice() else { return None };
        let entry = Self {
            event: EventKind::parse(event)?,
            release: (*release).to_owned(),
            commit: (*commit != "-").then(|| (*commit).to_owned()),
            deploy_id: None,
            at: Some((*at).to_owned()),
            user: Some((*user).to_owned()),
            migrations: Some(parse_yes_no(migrate.strip_prefix("migrate=")?)?),
            command: None,
        };
        entry.validated()
    }

    fn validated(self) -> Option<Self> {
        let commit_ok = self.commit.as_deref().is_none_or(is_commit);
        let command_ok = self
            .command
            .as_deref()
            .is_none_or(|command| !command.is_empty() && command.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        (is_release_name(&self.release) && commit_ok && command_ok).then_some(self)
    }
}

/// Reads every line it understands, in order; the number of lines it could not read
/// comes back too, so a reader can say the history was damaged.
pub fn parse_all<'a>(lines: impl IntoIterator<Item = &'a str>) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut unreadable = 0;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        match Entry::parse(line) {
            Some(entry) => entries.push(entry),
            None if is_newer_event(line) => {} // a newer writer's event: not damage
            None => unreadable += 1,
        }
    }
    (entries, unreadable)
}

/// A well-formed line of this version whose event this version does not know.
fn is_newer_event(line: &str) -> bool {
    let Some(fields) = line.strip_suffix('\r').unwrap_or(line).strip_prefix("v2\t") else { return false };
    fields.split('\t').any(|field| {
        field.strip_prefix("event=").is_some_and(|event| {
            EventKind::parse(event).is_none()
                && !event.is_empty()
                && event.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        })
    })
}

fn parse_yes_no(value: &str) -> Option<bool> {
    match value {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '%' || c.is_control() {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed(release: &str) -> Entry {
        Entry {
            event: EventKind::Deployed,
            release: release.to_owned(),
            commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
            deploy_id: Some("run-1".to_owned()),
            at: Some("2026-11-23T00:00:00Z".to_owned()),
            user: Some("ana".to_owned()),
            migrations: Some(true),
            command: Some("deploy_full".to_owned()),
        }
    }

    #[test]
    fn round_trip() {
        let entry = deployed("20261123T000000Z-0123456");
        let line = entry.to_line();
        assert!(line.starts_with("v2\tevent=deployed\t"), "{line}");
        assert!(line.ends_with("\trelease=20261123T000000Z-0123456"), "{line}");
        assert_eq!(Entry::parse(&line), Some(entry));
    }

    #[test]
    fn hostile_values_stay_inside_their_field() {
        let entry = Entry { user: Some("a\tb\nc%d\u{1b}[2J=é".to_owned()), ..deployed("r1") };
        let line = entry.to_line();
        assert!(!line.contains('\n') && !line.contains('\u{1b}') && line.matches('\t').count() == 8, "{line:?}");
        assert_eq!(Entry::parse(&line), Some(entry));
    }

    #[test]
    fn values_are_checked_when_read_back() {
        assert_eq!(Entry::parse("v2\tevent=deployed\trelease=../../etc"), None);
        assert_eq!(Entry::parse("v2\tevent=deployed\trelease=r1\tcommit=$(rm)"), None);
        assert_eq!(Entry::parse("v2\tevent=exploded\trelease=r1"), None);
        assert_eq!(Entry::parse("v2\tevent=deployed\trelease=r1\tuser=%4"), None);
        assert_eq!(Entry::parse("v2\tevent=deployed\trelease=r1\tuser=%FF"), None, "not UTF-8");
        assert_eq!(Entry::parse("v2\tevent=deployed"), None, "no release");
        assert_eq!(Entry::parse("garbage"), None);
    }

    #[test]
    fn newer_lines_and_fields_are_skipped_not_misread() {
        assert_eq!(Entry::parse("v3\tsomething=else\trelease=r1"), None);
        let entry = Entry::parse("v2\tevent=deployed\tfuture=1\trelease=r1").unwrap();
        assert_eq!(entry.release, "r1");
    }

    #[test]
    fn reads_version_one() {
        let line = "20261123T000000Z-0123456\t0123456789abcdef0123456789abcdef01234567\t2026-11-23T00:00:00Z\tana\tdeployed\tmigrate=yes";
        let entry = Entry::parse(line).unwrap();
        assert_eq!(entry.event, EventKind::Deployed);
        assert_eq!(entry.migrations, Some(true));
        let rollback = "20261123T000000Z-0123456\t-\t2026-11-23T00:00:00Z\tana\trolled-back-to\tmigrate=no";
        assert_eq!(Entry::parse(rollback).unwrap().event, EventKind::RolledBack);
        assert_eq!(Entry::parse(rollback).unwrap().commit, None);
    }

    #[test]
    fn parse_all_counts_what_it_could_not_read() {
        let good = deployed("r1").to_line();
        let (entries, unreadable) = parse_all([good.as_str(), "", "junk", good.as_str()]);
        assert_eq!((entries.len(), unreadable), (2, 1));
    }

    #[test]
    fn a_newer_event_is_skipped_not_counted_as_damage() {
        let (entries, unreadable) = parse_all(["v2\tevent=exploded\trelease=r1", "v2\tevent=$(x)\trelease=r1"]);
        assert_eq!((entries.len(), unreadable), (0, 1), "only the hostile one is damage");
    }

    #[test]
    fn commands_are_names() {
        let line = deployed("r1").to_line();
        assert_eq!(Entry::parse(&line).unwrap().command.as_deref(), Some("deploy_full"));
        assert_eq!(Entry::parse(&line.replace("deploy_full", "rm%20-rf")), None);
        let switched = Entry { event: EventKind::SwitchedBack, ..deployed("r1") };
        assert_eq!(Entry::parse(&switched.to_line()), Some(switched));
    }
}
