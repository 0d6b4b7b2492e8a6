//! Which deploy `deployer resume` continues, read from every host's state report,
//! and why it refuses when continuing would be a guess.
//!
//! A deploy attempt is named by its release id (one commit, one stamp). An
//! attempt is resumable when it stopped before its switch: some hosts recorded
//! the release `prepared` (complete, never live), and no host shows it went live
//! (`deployed`, `rolled-back`) or was switched back (`switched-back`). Resume
//! refuses, naming the hosts, when:
//! - a host is unreachable or the environment's lock is held (nothing can be
//!   checked, or someone is deploying);
//! - the switch began (a host is on the release): finishing or switching back is
//!   a person's choice;
//! - the fleet moved on since: a host prepared the release and then something
//!   else went live there, or a host that did not prepare it is on a release
//!   the prepared hosts were not on, or went live after the attempt.
//!
//! Pure: the caller gathers the reports (the `status` phase).

use std::collections::BTreeSet;
use std::fmt;

use crate::protocol::history::{Entry, EventKind};
use crate::protocol::report::HostReport;

/// A deploy `resume` can continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    pub release: String,
    pub commit: String,
    /// The command that shipped it (`deploy_full`, `deploy_serial`, `create_environment`).
    pub command: String,
    /// The deploy ids of the attempts that prepared it, oldest first.
    pub deploys: Vec<String>,
    /// Hosts where the release is complete: verified, not built again.
    pub prepared: Vec<String>,
    /// Hosts still to prepare.
    pub remaining: Vec<String>,
}

/// Why there is nothing to resume, or why resuming would be a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No host has a release that was prepared and never went live.
    Nothing,
    NotFound {
        wanted: String,
    },
    /// Several attempts could be meant.
    Ambiguous {
        releases: Vec<String>,
    },
    Unreachable {
        hosts: Vec<String>,
    },
    Locked {
        hosts: Vec<String>,
        id: String,
    },
    /// The release went live somewhere (the deploy finished, or was rolled back to).
    WentLive {
        release: String,
        hosts: Vec<String>,
    },
    /// The deploy reached its switch, failed and switched back.
    SwitchedBack {
        release: String,
        hosts: Vec<String>,
    },
    /// The switch began and was not undone (the controller was killed).
    SwitchBegan {
        release: String,
        on_release: Vec<String>,
        elsewhere: Vec<String>,
    },
    /// The fleet moved on since the attempt: host and what happened there.
    Drift {
        release: String,
        hosts: Vec<(String, String)>,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nothing => {
                write!(f, "no deploy to resume: no host has a release that was prepared and never went live")
            }
            Self::NotFound { wanted } => write!(f, "no resumable deploy or release `{wanted}` on these hosts"),
            Self::Ambiguous { releases } => {
                write!(
                    f,
                    "several deploys stopped before their switch ({}): name the one to resume",
                    releases.join(", ")
                )
            }
            Self::Unreachable { hosts } => {
                write!(f, "cannot check every host before resuming: unreachable: {}", hosts.join(", "))
            }
            Self::Locked { hosts, id } => {
                write!(f, "the environment's lock is held (id {id}) on {}: a deploy may be running", hosts.join(", "))
            }
            Self::WentLive { release, hosts } => {
                write!(f, "release {release} already went live (on {}): there is nothing to resume", hosts.join(", "))
            }
            Self::SwitchedBack { release, hosts } => write!(
                f,
                "the deploy of {release} reached its switch and was switched back (on {}): it failed after going \
                 live, so deploy again instead",
                hosts.join(", ")
            ),
            Self::SwitchBegan { release, on_release, elsewhere } => write!(
                f,
                "the switch to {release} began and did not finish: on {release}: {}; not on it: {}. resume does not \
                 guess: finish with `deploy_full --commit` of the same commit, or go back with `rollback`",
                on_release.join(", "),
                if elsewhere.is_empty() { "none".to_owned() } else { elsewhere.join(", ") }
            ),
            Self::Drift { release, hosts } => {
                write!(
                    f,
                    "the fleet moved on since the deploy of {release} stopped, so resuming it would undo that: "
                )?;
                let described: Vec<String> = hosts.iter().map(|(host, what)| format!("{host}: {what}")).collect();
                write!(f, "{}", described.join("; "))
            }
        }
    }
}

/// One host as `status` saw it: `None` when it could not be read.
pub type Observed<'a> = (&'a str, Option<&'a HostReport>);

fn goes_live(entry: &Entry) -> bool {
    matches!(entry.event, EventKind::Deployed | EventKind::RolledBack)
}

fn ends_attempt(entry: &Entry) -> bool {
    goes_live(entry) || entry.event == EventKind::SwitchedBack
}

/// The releases a host prepared after anything last went live there (its
/// newest attempts), oldest first.
fn open_attempts(report: &HostReport) -> Vec<&Entry> {
    let start = report.history.iter().rposition(ends_attempt).map_or(0, |position| position + 1);
    report.history[start..].iter().filter(|entry| entry.event == EventKind::Prepared).collect()
}

/// The deploy `wanted` names (a release id or a deploy id), or the one open
/// attempt; then every check above.
pub fn find(hosts: &[Observed<'_>], wanted: Option<&str>) -> Result<ResumePoint, Refusal> {
    let unreachable: Vec<String> =
        hosts.iter().filter(|(_, report)| report.is_none()).map(|(host, _)| (*host).to_owned()).collect();
    if !unreachable.is_empty() {
        return Err(Refusal::Unreachable { hosts: unreachable });
    }
    let reports: Vec<(&str, &HostReport)> =
        hosts.iter().filter_map(|(host, report)| report.map(|report| (*host, report))).collect();
    let release = choose(&reports, wanted)?;
    let with_event = |event: fn(&Entry) -> bool| -> Vec<String> {
        reports
            .iter()
            .filter(|(_, report)| report.history.iter().any(|entry| entry.release == release && event(entry)))
            .map(|(host, _)| (*host).to_owned())
            .collect()
    };
    let live = with_event(goes_live);
    if !live.is_empty() {
        return Err(Refusal::WentLive { release, hosts: live });
    }
    let switched_back = with_event(|entry| entry.event == EventKind::SwitchedBack);
    if !switched_back.is_empty() {
        return Err(Refusal::SwitchedBack { release, hosts: switched_back });
    }
    let (on_release, elsewhere): (Vec<_>, Vec<_>) =
        reports.iter().partition(|(_, report)| report.current.as_deref() == Some(release.as_str()));
    if !on_release.is_empty() {
        return Err(Refusal::SwitchBegan {
            release,
            on_release: on_release.iter().map(|(host, _)| (*host).to_owned()).collect(),
            elsewhere: elsewhere.iter().map(|(host, _)| (*host).to_owned()).collect(),
        });
    }
    let locked: Vec<(&str, String)> =
        reports.iter().filter_map(|(host, report)| report.lock_owner().map(|owner| (*host, owner.id))).collect();
    if let Some((_, id)) = locked.first() {
        return Err(Refusal::Locked {
            hosts: locked.iter().map(|(host, _)| (*host).to_owned()).collect(),
            id: id.clone(),
        });
    }
    check_drift(&reports, &release)?;
    let prepared_entries: Vec<&Entry> = reports
        .iter()
        .flat_map(|(_, report)| report.history.iter())
        .filter(|entry| entry.release == release && entry.event == EventKind::Prepared)
        .collect();
    let first = prepared_entries.first().ok_or(Refusal::Nothing)?;
    let commit = first.commit.clone().ok_or(Refusal::Nothing)?;
    let mut deploys = Vec::new();
    for entry in &prepared_entries {
        if let Some(id) = &entry.deploy_id
            && !deploys.contains(id)
        {
            deploys.push(id.clone());
        }
    }
    let (prepared, remaining): (Vec<_>, Vec<_>) = reports
        .iter()
        .partition(|(_, report)| report.complete.contains(&release) && report.releases.contains(&release));
    if prepared.is_empty() {
        return Err(Refusal::Nothing);
    }
    Ok(ResumePoint {
        command: first.command.clone().unwrap_or_else(|| "deploy_full".to_owned()),
        commit,
        deploys,
        prepared: prepared.iter().map(|(host, _)| (*host).to_owned()).collect(),
        remaining: remaining.iter().map(|(host, _)| (*host).to_owned()).collect(),
        release,
    })
}

/// The release to resume: the one `wanted` names, or the one open attempt.
fn choose(reports: &[(&str, &HostReport)], wanted: Option<&str>) -> Result<String, Refusal> {
    if let Some(wanted) = wanted {
        let named = |entry: &&Entry| {
            entry.event == EventKind::Prepared
                && (entry.release == wanted || entry.deploy_id.as_deref() == Some(wanted))
        };
        return reports
            .iter()
            .find_map(|(_, report)| report.history.iter().find(named).map(|entry| entry.release.clone()))
            .ok_or_else(|| Refusal::NotFound { wanted: wanted.to_owned() });
    }
    // Each host's newest open attempt whose release is still there to resume from
    // (or is live without a record: a switch that did not finish, which `find`
    // then reports).
    let newest: BTreeSet<String> = reports
        .iter()
        .filter_map(|(_, report)| {
            open_attempts(report)
                .into_iter()
                .rev()
                .find(|entry| report.complete.contains(&entry.release))
                .map(|entry| entry.release.clone())
        })
        .collect();
    match newest.len() {
        0 => Err(Refusal::Nothing),
        1 => Ok(newest.into_iter().next().expect("one")),
        _ => Err(Refusal::Ambiguous { releases: newest.into_iter().collect() }),
    }
}

fn check_drift(reports: &[(&str, &HostReport)], release: &str) -> Result<(), Refusal> {
    let prepared_at = |report: &HostReport| {
        report.history.iter().position(|entry| entry.release == release && entry.event == EventKind::Prepared)
    };
    // When the attempt started, by its own record: later going-live events elsewhere are drift.
    let started = reports
        .iter()
        .flat_map(|(_, report)| report.history.iter())
        .filter(|entry| entry.release == release && entry.event == EventKind::Prepared)
        .filter_map(|entry| entry.at.clone())
        .min();
    // What the hosts that prepared the release (and stayed put) are on: the release
    // an unprepared host must be on too.
    let live_on_prepared: BTreeSet<Option<&str>> = reports
        .iter()
        .filter(|(_, report)| {
            prepared_at(report).is_some_and(|position| !report.history[position + 1..].iter().any(goes_live))
        })
        .map(|(_, report)| report.current.as_deref())
        .collect();
    let mut drift = Vec::new();
    for (host, report) in reports {
        let moved = if let Some(position) = prepared_at(report) {
            report.history[position + 1..]
                .iter()
                .find(|entry| goes_live(entry))
                .map(|entry| format!("{} went live after the attempt{}", entry.release, by_whom(entry)))
        } else {
            let later = started.as_ref().and_then(|started| {
                report.history.iter().find(|entry| goes_live(entry) && entry.at.as_ref().is_some_and(|at| at > started))
            });
            if let Some(entry) = later {
                Some(format!("{} went live after the attempt{}", entry.release, by_whom(entry)))
            } else if !live_on_prepared.is_empty() && !live_on_prepared.contains(&report.current.as_deref()) {
                Some(format!(
                    "it is on {}, which no host that prepared the release was on",
                    report.current.as_deref().unwrap_or("no release")
                ))
            } else {
                None
            }
        };
        if let Some(what) = moved {
            drift.push(((*host).to_owned(), what));
        }
    }
    if drift.is_empty() { Ok(()) } else { Err(Refusal::Drift { release: release.to_owned(), hosts: drift }) }
}

fn by_whom(entry: &Entry) -> String {
    match (&entry.user, &entry.deploy_id) {
        (Some(user), Some(id)) => format!(" (deploy {id} by {user})"),
        (None, Some(id)) => format!(" (deploy {id})"),
        (Some(user), None) => format!(" (by {user})"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn entry(event: EventKind, release: &str, deploy: &str, at: &str) -> Entry {
        Entry {
            event,
            release: release.to_owned(),
            commit: Some(COMMIT.to_owned()),
            deploy_id: Some(deploy.to_owned()),
            at: Some(at.to_owned()),
            user: Some("ana".to_owned()),
            migrations: Some(false),
            command: Some("deploy_serial".to_owned()),
        }
    }

    /// A host that ran `old` and then prepared `new` (when `prepared`).
    fn host(prepared: bool) -> HostReport {
        let mut report =
            HostReport { current: Some("old".to_owned()), lock_held: Some(false), ..HostReport::default() };
        report.history.push(entry(EventKind::Prepared, "old", "d0", "2026-11-01T00:00:00Z"));
        report.history.push(entry(EventKind::Deployed, "old", "d0", "2026-11-01T00:00:00Z"));
        for release in ["old"].into_iter().chain(prepared.then_some("new")) {
            report.releases.insert(release.to_owned());
            report.complete.insert(release.to_owned());
        }
        if prepared {
            report.history.push(entry(EventKind::Prepared, "new", "d1", "2026-11-02T00:00:00Z"));
        }
        report
    }

    fn find_in(reports: &[HostReport], wanted: Option<&str>) -> Result<ResumePoint, Refusal> {
        let names = ["a", "b", "c"];
        let observed: Vec<Observed<'_>> =
            reports.iter().enumerate().map(|(i, report)| (names[i], Some(report))).collect();
        find(&observed, wanted)
    }

    #[test]
    fn a_failed_prepare_is_resumable_where_it_stopped() {
        let point = find_in(&[host(true), host(true), host(false)], None).unwrap();
        assert_eq!(point.release, "new");
        assert_eq!(point.commit, COMMIT);
        assert_eq!(point.command, "deploy_serial");
        assert_eq!(point.deploys, ["d1"]);
        assert_eq!((point.prepared, point.remaining), (vec!["a".to_owned(), "b".to_owned()], vec!["c".to_owned()]));
        assert_eq!(find_in(&[host(true), host(false)], Some("d1")).unwrap().release, "new");
        assert_eq!(find_in(&[host(true), host(false)], Some("new")).unwrap().release, "new");
        assert_eq!(find_in(&[host(true)], Some("zzz")), Err(Refusal::NotFound { wanted: "zzz".to_owned() }));
    }

    #[test]
    fn nothing_to_resume_after_a_finished_deploy() {
        let mut a = host(true);
        a.history.push(entry(EventKind::Deployed, "new", "d1", "2026-11-02T00:00:00Z"));
        a.current = Some("new".to_owned());
        assert_eq!(find_in(&[a.clone()], None), Err(Refusal::Nothing));
        assert!(matches!(find_in(&[a], Some("new")), Err(Refusal::WentLive { .. })));
        assert_eq!(find_in(&[host(false)], None), Err(Refusal::Nothing));
    }

    #[test]
    fn a_switched_back_deploy_is_not_resumed() {
        let mut a = host(true);
        a.history.push(entry(EventKind::SwitchedBack, "new", "d1", "2026-11-02T00:00:00Z"));
        assert_eq!(find_in(&[a.clone()], None), Err(Refusal::Nothing), "not offered");
        assert!(matches!(find_in(&[a], Some("new")), Err(Refusal::SwitchedBack { .. })));
    }

    #[test]
    fn a_begun_switch_is_left_to_a_person() {
        let mut a = host(true);
        a.current = Some("new".to_owned());
        let refusal = find_in(&[a, host(true)], Some("new")).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::SwitchBegan {
                release: "new".to_owned(),
                on_release: vec!["a".to_owned()],
                elsewhere: vec!["b".to_owned()]
            }
        );
        assert!(refusal.to_string().contains("does not guess"));
    }

    #[test]
    fn drift_on_a_prepared_host_or_an_unprepared_one_refuses() {
        let mut a = host(true);
        a.history.push(entry(EventKind::Deployed, "other", "d2", "2026-11-03T00:00:00Z"));
        a.current = Some("other".to_owned());
        let Err(Refusal::Drift { hosts, .. }) = find_in(&[a, host(false)], Some("new")) else { panic!() };
        assert_eq!(hosts.len(), 1);
        assert!(hosts[0].1.contains("other went live after the attempt (deploy d2 by ana)"), "{hosts:?}");

        let mut c = host(false);
        c.history.push(entry(EventKind::Deployed, "other", "d2", "2026-11-03T00:00:00Z"));
        c.current = Some("other".to_owned());
        let Err(Refusal::Drift { hosts, .. }) = find_in(&[host(true), c], None) else { panic!() };
        assert_eq!(hosts[0].0, "b");

        let mut c = host(false);
        c.current = Some("elsewhere".to_owned());
        let Err(Refusal::Drift { hosts, .. }) = find_in(&[host(true), c], None) else { panic!() };
        assert!(hosts[0].1.contains("is on elsewhere"), "{hosts:?}");
    }

    #[test]
    fn unreachable_hosts_and_held_locks_refuse() {
        let a = host(true);
        let observed: Vec<Observed<'_>> = vec![("a", Some(&a)), ("b", None)];
        assert_eq!(find(&observed, None), Err(Refusal::Unreachable { hosts: vec!["b".to_owned()] }));
        let locked = HostReport::parse(["DEPLOYER-STATE lock=held", "DEPLOYER-LOCK id=run-9"]);
        let locked = HostReport {
            history: a.history.clone(),
            complete: a.complete.clone(),
            releases: a.releases.clone(),
            ..locked
        };
        let observed: Vec<Observed<'_>> = vec![("a", Some(&locked))];
        assert!(matches!(find(&observed, None), Err(Refusal::Locked { id, .. }) if id == "run-9"));
    }

    #[test]
    fn two_open_attempts_need_a_name() {
        let mut a = host(true);
        a.history.push(entry(EventKind::Prepared, "newer", "d3", "2026-11-04T00:00:00Z"));
        a.complete.insert("newer".to_owned());
        a.releases.insert("newer".to_owned());
        let b = host(true);
        assert_eq!(find_in(&[a.clone()], None).unwrap().release, "newer", "a host's newest attempt");
        assert!(matches!(find_in(&[a.clone(), b], None), Err(Refusal::Ambiguous { .. })));
    }
}
