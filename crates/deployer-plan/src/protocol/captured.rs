//! Values a run derives from every host's state report, which later steps use
//! (the rollback target), and how the hosts' values combine into one.
//!
//! A phase declares a [`Derivation`]; the executor feeds each host's output to a
//! [`HostReport`], calls [`Derivation::derive`] per host and [`combine`]s the
//! results. Scripts see the value through a slot ([`Script::push_variable`]).
//!
//! [`Script::push_variable`]: crate::Script::push_variable

use std::collections::BTreeMap;

use serde::Serialize;

use super::history::{Entry, EventKind};
use super::report::HostReport;

/// A value captured from the hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Captured {
    /// The release a rollback switches to.
    RollbackTarget,
    /// Whether migrations ran after the rollback target went live: `yes`, `no` or
    /// `unknown`.
    MigrationsSinceTarget,
}

impl Captured {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RollbackTarget => "rollback_target",
            Self::MigrationsSinceTarget => "migrations_since_target",
        }
    }

    /// Words for people (`switch to the rollback target`).
    pub fn describe(self) -> &'static str {
        match self {
            Self::RollbackTarget => "rollback target",
            Self::MigrationsSinceTarget => "migrations since the rollback target",
        }
    }
}

/// What a phase derives from each host's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Derivation {
    /// The release to roll back to: `to`, or the one live before the current
    /// release, as the host's history orders them.
    RollbackTarget { to: Option<String> },
}

impl Derivation {
    /// The values this derivation gives.
    pub fn values(&self) -> &'static [Captured] {
        match self {
            Self::RollbackTarget { .. } => &[Captured::RollbackTarget, Captured::MigrationsSinceTarget],
        }
    }

    /// What the plan says about it, for people.
    pub fn describe(&self) -> String {
        match self {
            Self::RollbackTarget { to: None } => "the target is the release each host's history shows live before the \
                                                  current one; every host must name the same"
                .to_owned(),
            Self::RollbackTarget { to: Some(id) } => {
                format!("the target is {id}, which must be complete on every host")
            }
        }
    }

    /// The values for one host, or why there are none.
    pub fn derive(&self, report: &HostReport) -> Result<Vec<(Captured, String)>, String> {
        match self {
            Self::RollbackTarget { to } => {
                let choice = choose_rollback(report, to.as_deref())?;
                Ok(vec![
                    (Captured::RollbackTarget, choice.target),
                    (Captured::MigrationsSinceTarget, choice.migrations.as_str().to_owned()),
                ])
            }
        }
    }
}

/// The one value for the run, from each host's (`host → value`).
///
/// The rollback target must be the same everywhere, or the fleet would end up on
/// different releases. Migrations combine: `yes` if any host says so (the database
/// is shared), else `unknown` if any host cannot tell.
pub fn combine(captured: Captured, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut by_value: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (host, value) in values {
        by_value.entry(value).or_default().push(host);
    }
    match captured {
        Captured::RollbackTarget => match by_value.len() {
            0 => Err(format!("no host reported the {}", captured.describe())),
            1 => Ok(by_value.keys().next().copied().unwrap_or_default().to_owned()),
            _ => {
                let listed: Vec<String> =
                    by_value.iter().map(|(value, hosts)| format!("{value} on {}", hosts.join(", "))).collect();
                Err(format!("hosts disagree on the {}: {}", captured.describe(), listed.join("; ")))
            }
        },
        Captured::MigrationsSinceTarget => Ok(["yes", "unknown", "no"]
            .into_iter()
            .find(|answer| by_value.contains_key(answer))
            .unwrap_or("unknown")
            .to_owned()),
    }
}

/// Whether migrations ran since a release went live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrations {
    Yes,
    No,
    Unknown,
}

impl Migrations {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Unknown => "unknown",
        }
    }

    fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Self {
        let mut answer = Self::No;
        for entry in entries {
            match entry.migrations {
                Some(true) => return Self::Yes,
                None => answer = Self::Unknown,
                Some(false) => {}
            }
        }
        answer
    }
}

/// Where a rollback goes on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackChoice {
    pub target: String,
    pub migrations: Migrations,
}

/// The releases that were live, oldest first, with the entry that made each live:
/// a deploy pushes its release, a rollback returns to an earlier one.
///
/// `deploy v2, deploy v3, rollback, deploy v4` leaves `[v2, v4]`: rolling back
/// from v4 goes to v2, the release live before it, never to v3.
pub fn live_releases(history: &[Entry]) -> Vec<&Entry> {
    let mut stack: Vec<&Entry> = Vec::new();
    for entry in history {
        match entry.event {
            EventKind::Prepared | EventKind::SwitchedBack => {}
            EventKind::Deployed => {
                if stack.last().is_none_or(|top| top.release != entry.release) {
                    stack.push(entry);
                }
            }
            EventKind::RolledBack => {
                if let Some(position) = stack.iter().rposition(|live| live.release == entry.release) {
                    stack.truncate(position + 1);
                } else {
                    stack.clear();
                    stack.push(entry);
                }
            }
        }
    }
    stack
}

/// Chooses the rollback target on one host from its history and `current`.
pub fn choose_rollback(report: &HostReport, to: Option<&str>) -> Result<RollbackChoice, String> {
    let current = report.current.as_deref().ok_or("this host has no current release to roll back from")?;
    let stack = live_releases(&report.history);
    // A run stopped after its switch but before it recorded the deploy leaves
    // `current` unrecorded; the release before it is then the newest recorded one.
    let (below, above): (&[&Entry], Vec<&Entry>) = match stack.split_last() {
        Some((top, rest)) if top.release == current => (rest, vec![*top]),
        _ => {
            let prepared = report
                .history
                .iter()
                .rev()
                .find(|entry| entry.release == current && entry.event == EventKind::Prepared);
            (&stack, prepared.into_iter().collect())
        }
    };
    let (target, migrations) = match to {
        None => {
            let target =
                below.last().ok_or("no release was live before the current one, according to this host's history")?;
            let migrations = if above.is_empty() { Migrations::Unknown } else { Migrations::of(above) };
            (target.release.clone(), migrations)
        }
        Some(id) => {
            let migrations = match below.iter().rposition(|entry| entry.release == id) {
                Some(position) if !above.is_empty() => {
                    Migrations::of(below[position + 1..].iter().copied().chain(above))
                }
                _ => Migrations::Unknown,
            };
            (id.to_owned(), migrations)
        }
    };
    if !report.complete.contains(&target) {
        return Err(format!("release {target} is not on this host, or not complete"));
    }
    Ok(RollbackChoice { target, migrations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event: EventKind, release: &str, migrations: bool) -> Entry {
        Entry {
            event,
            release: release.to_owned(),
            commit: None,
            deploy_id: None,
            at: None,
            user: None,
            migrations: Some(migrations),
            command: None,
        }
    }

    fn deployed(release: &str) -> Entry {
        entry(EventKind::Deployed, release, false)
    }

    fn rolled_back(release: &str) -> Entry {
        entry(EventKind::RolledBack, release, false)
    }

    fn host(current: &str, history: Vec<Entry>) -> HostReport {
        let mut report = HostReport { current: Some(current.to_owned()), history, ..HostReport::default() };
        for name in ["v1", "v2", "v3", "v4", "a", "z"] {
            report.complete.insert(name.to_owned());
        }
        report
    }

    #[test]
    fn goes_to_the_release_live_before_whatever_the_ids_say() {
        // Ids that sort the other way round (a controller clock that was behind).
        let report = host("a", vec![deployed("v1"), deployed("z"), deployed("a")]);
        assert_eq!(choose_rollback(&report, None).unwrap().target, "z");
    }

    #[test]
    fn a_rollback_then_a_deploy_goes_back_past_the_rolled_back_release() {
        let history = vec![deployed("v2"), deployed("v3"), rolled_back("v2"), deployed("v4")];
        assert_eq!(choose_rollback(&host("v4", history.clone()), None).unwrap().target, "v2");
        let mut twice = history;
        twice.push(rolled_back("v2"));
        assert_eq!(
            choose_rollback(&host("v2", twice), None).unwrap_err(),
            "no release was live before the current one, according to this host's history"
        );
    }

    #[test]
    fn two_rollbacks_walk_back_two_releases() {
        let history = vec![deployed("v1"), deployed("v2"), deployed("v3"), rolled_back("v2")];
        assert_eq!(choose_rollback(&host("v2", history), None).unwrap().target, "v1");
    }

    #[test]
    fn an_unrecorded_current_rolls_back_to_the_newest_recorded() {
        let history = vec![deployed("v1"), deployed("v2"), entry(EventKind::Prepared, "v3", true)];
        let choice = choose_rollback(&host("v3", history), None).unwrap();
        assert_eq!(choice, RollbackChoice { target: "v2".to_owned(), migrations: Migrations::Yes });
    }

    #[test]
    fn migrations_since_the_target() {
        let history = vec![deployed("v1"), entry(EventKind::Deployed, "v2", true), deployed("v3")];
        assert_eq!(choose_rollback(&host("v3", history.clone()), None).unwrap().migrations, Migrations::No);
        assert_eq!(choose_rollback(&host("v3", history.clone()), Some("v1")).unwrap().migrations, Migrations::Yes);
        assert_eq!(choose_rollback(&host("v3", history), Some("a")).unwrap().migrations, Migrations::Unknown);
    }

    #[test]
    fn the_target_must_be_complete_on_the_host() {
        let report = host("v2", vec![deployed("gone"), deployed("v2")]);
        assert_eq!(choose_rollback(&report, None).unwrap_err(), "release gone is not on this host, or not complete");
        let empty = HostReport::default();
        assert!(choose_rollback(&empty, None).is_err());
    }

    #[test]
    fn hosts_must_agree_on_the_target_and_migrations_combine() {
        let values = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(host, value)| ((*host).to_owned(), (*value).to_owned())).collect::<BTreeMap<_, _>>()
        };
        assert_eq!(combine(Captured::RollbackTarget, &values(&[("a", "v1"), ("b", "v1")])).unwrap(), "v1");
        let error = combine(Captured::RollbackTarget, &values(&[("a", "v1"), ("b", "v2")])).unwrap_err();
        assert_eq!(error, "hosts disagree on the rollback target: v1 on a; v2 on b");
        let migrations = values(&[("a", "no"), ("b", "yes"), ("c", "unknown")]);
        assert_eq!(combine(Captured::MigrationsSinceTarget, &migrations).unwrap(), "yes");
        assert_eq!(combine(Captured::MigrationsSinceTarget, &values(&[("a", "no")])).unwrap(), "no");
    }
}
