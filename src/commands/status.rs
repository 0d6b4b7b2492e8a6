//! `deployer status ENV`, `deployer lock status ENV` and `deployer lock release ENV
//! --id ID`: read-only (or lock-only) runs whose results are tables.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use deployer_exec::{Event, Reporter, RunStatus};
use deployer_plan::CommandSpec;
use deployer_plan::protocol::lock_owner::LockOwner;
use deployer_plan::protocol::report::HostReport;
use serde::Serialize;

use crate::cli::{GlobalArgs, Target};
use crate::context::CliError;
use crate::exit::Exit;
use crate::output;
use crate::planning::{PlanRequest, build_plan};
use crate::report::escape;

use super::execute::run_plan;

/// What `status` learned about one host.
#[derive(Debug, Default, Clone, Serialize)]
struct HostStatus {
    host: String,
    reachable: bool,
    error: Option<String>,
    current: Option<String>,
    /// Where `current` points when that is not a release directory.
    current_elsewhere: Option<String>,
    commit: Option<String>,
    previous: Option<String>,
    /// Complete releases (the ones `current` can point at).
    releases: Option<usize>,
    /// Releases deployer did not create (an adopted layout's): shown, never removed.
    foreign: Vec<String>,
    lock: Option<LockStatus>,
    /// The maintenance page is up (`begin_upgrade` without `end_upgrade`).
    maintenance: bool,
    /// Deploys whose dead-man's switch is armed here, not yet confirmed.
    armed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct LockStatus {
    #[serde(flatten)]
    owner: LockOwner,
    /// The holder ran on this machine and its process is gone.
    stale: bool,
}

/// Collects each host's state report, its messages and connection errors.
#[derive(Default)]
struct Collector {
    reports: Mutex<BTreeMap<String, HostReport>>,
    messages: Mutex<BTreeMap<String, Vec<String>>>,
    errors: Mutex<BTreeMap<String, String>>,
}

impl Reporter for Collector {
    fn report(&self, event: Event) {
        match event {
            Event::Output { host, line, .. } => {
                let mut reports = self.reports.lock().expect("not poisoned");
                let report = reports.entry(host.clone()).or_default();
                if !report.push_line(&line) && line.starts_with("deployer: ") {
                    self.messages.lock().expect("not poisoned").entry(host).or_default().push(line);
                }
            }
            Event::HostUnreachable { host, error, .. } | Event::HostFailed { host, error, .. } => {
                self.errors.lock().expect("not poisoned").insert(host, error);
            }
            _ => {}
        }
    }
}

/// Every host's state report, read by the `status` plan.
pub(crate) struct Observed {
    /// The plan's hosts, in order.
    pub hosts: Vec<String>,
    /// Hosts whose report came back (with its lock line: the script ran to its end).
    pub reports: BTreeMap<String, HostReport>,
    pub errors: BTreeMap<String, String>,
    pub run: RunStatus,
}

impl Observed {
    /// Each host with its report, `None` when it could not be read.
    pub(crate) fn by_host(&self) -> Vec<deployer_plan::resume::Observed<'_>> {
        self.hosts.iter().map(|host| (host.as_str(), self.reports.get(host))).collect()
    }
}

pub(crate) fn observe(global: &GlobalArgs, target: &Target) -> Result<Observed, CliError> {
    let request = PlanRequest {
        target: target.clone(),
        spec: CommandSpec::Status,
        branch: None,
        commit: None,
        release_stamp: None,
    };
    let (config, plan) = build_plan(global, request)?;
    let collector = Collector::default();
    let outcome = run_plan(global, &config, &plan, &BTreeMap::new(), &collector)?;
    let mut reports = collector.reports.into_inner().expect("not poisoned");
    reports.retain(|_, report| report.lock_held.is_some());
    Ok(Observed {
        hosts: plan.hosts.iter().map(|host| host.name.clone()).collect(),
        reports,
        errors: collector.errors.into_inner().expect("not poisoned"),
        run: outcome.status,
    })
}

fn gather(global: &GlobalArgs, target: &Target) -> Result<(Vec<HostStatus>, Observed), CliError> {
    let observed = observe(global, target)?;
    let (reports, errors) = (&observed.reports, &observed.errors);
    let this_machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned();
    let hosts = observed
        .hosts
        .iter()
        .map(|host| {
            let mut status = HostStatus { host: host.clone(), ..HostStatus::default() };
            status.error = errors.get(host).cloned();
            let Some(report) = reports.get(host) else {
                return status;
            };
            status.reachable = true;
            status.current.clone_from(&report.current);
            status.current_elsewhere.clone_from(&report.current_elsewhere);
            status.commit = report.current.as_deref().and_then(|current| report.commit_of(current)).map(str::to_owned);
            status.previous.clone_from(&report.previous);
            status.releases = Some(report.complete.len());
            status.foreign = report.foreign().into_iter().map(str::to_owned).collect();
            if let Some(current) = &status.current
                && status.foreign.contains(current)
            {
                status.current = Some(format!("{current} (foreign)"));
            }
            status.maintenance = report.maintenance_up == Some(true);
            status.armed = report.armed.iter().cloned().collect();
            status.lock = report.lock_owner().map(|owner| LockStatus {
                stale: owner.controller == this_machine
                    && owner.pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()),
                owner,
            });
            status
        })
        .collect();
    Ok((hosts, observed))
}

pub(crate) fn status(global: &GlobalArgs, target: &Target) -> Result<Exit, CliError> {
    let (hosts, observed) = gather(global, target)?;
    let run = observed.run;
    // A deploy that stopped before its switch, and the command that continues it.
    let found = deployer_plan::resume::find(&observed.by_host(), None);
    let unfinished_switch = match &found {
        Err(refusal @ deployer_plan::resume::Refusal::SwitchBegan { .. }) => Some(refusal.to_string()),
        _ => None,
    };
    // A group's deploys start again instead (`resume` refuses them).
    let resumable = found.ok().filter(|_| !group_environment(global, target));
    let resume_command = resumable.as_ref().map(|_| format!("deployer resume {}", target.target.join(" ")));
    let group_deploy = unfinished_group_deploy(global, target);
    let live: BTreeMap<String, Vec<&str>> =
        hosts.iter().filter(|host| host.reachable).fold(BTreeMap::new(), |mut live, host| {
            let live_release = host.current.clone().or_else(|| host.current_elsewhere.as_deref().map(escape));
            live.entry(live_release.unwrap_or_else(|| "(none)".to_owned())).or_default().push(&host.host);
            live
        });
    if global.json {
        let resumable = resumable.as_ref().map(|point| {
            serde_json::json!({
                "release": point.release, "commit": point.commit, "command": point.command,
                "deploys": point.deploys, "prepared": point.prepared, "remaining": point.remaining,
                "resume": resume_command,
            })
        });
        let value = serde_json::json!({
            "hosts": hosts, "drift": live.len() > 1, "live_releases": live, "resumable": resumable,
            "unfinished_switch": unfinished_switch, "group_deploy": group_deploy,
        });
        output::stdout(&format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default()));
    } else {
        let mut text = String::new();
        let width = hosts.iter().map(|host| host.host.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            text,
            "{:width$}  {:26}  {:8}  {:26}  {:8}  lock",
            "host", "current", "commit", "previous", "releases"
        );
        for host in &hosts {
            if !host.reachable {
                let error = host.error.as_deref().unwrap_or("no answer");
                let _ = writeln!(text, "{:width$}  unreachable: {}", host.host, escape(error));
                continue;
            }
            let short = host.commit.as_deref().map_or("-", |commit| &commit[..commit.len().min(7)]);
            let _ = writeln!(
                text,
                "{:width$}  {:26}  {:8}  {:26}  {:8}  {}",
                host.host,
                host.current
                    .clone()
                    .or_else(|| host.current_elsewhere.as_deref().map(escape))
                    .as_deref()
                    .unwrap_or("-"),
                short,
                host.previous.as_deref().unwrap_or("-"),
                host.releases.map_or("-".to_owned(), |count| count.to_string()),
                describe_lock(host.lock.as_ref()),
            );
        }
        for host in hosts.iter().filter(|host| !host.foreign.is_empty()) {
            let _ = writeln!(
                text,
                "{}: {} release(s) deployer did not create, kept and never pruned: {}",
                host.host,
                host.foreign.len(),
                host.foreign.join(", ")
            );
        }
        for host in hosts.iter().filter(|host| !host.armed.is_empty()) {
            let _ = writeln!(
                text,
                "{}: a dead-man's switch is armed for deploy {}: unless that deploy confirms, the host reverts on its own",
                host.host,
                host.armed.join(", ")
            );
        }
        let paged: Vec<&str> = hosts.iter().filter(|host| host.maintenance).map(|host| host.host.as_str()).collect();
        if !paged.is_empty() {
            let _ = writeln!(
                text,
                "the maintenance page is up on: {} (`deployer end_upgrade` takes it down)",
                paged.join(", ")
            );
        }
        if let (Some(point), Some(command)) = (&resumable, &resume_command) {
            let _ = writeln!(
                text,
                "resumable: the `{}` of {} (release {}) stopped before its switch; prepared on {} of {} hosts: `{command}`",
                point.command,
                &point.commit[..point.commit.len().min(7)],
                point.release,
                point.prepared.len(),
                point.prepared.len() + point.remaining.len(),
            );
        }
        if let Some(message) = &unfinished_switch {
            let _ = writeln!(text, "{message}");
        }
        if let Some(mark) = &group_deploy {
            let _ = writeln!(
                text,
                "auto scaling group: deploy {} has not finished (it restores {} on version {}); if it is not running \
                 any more, `deployer recover {}` finishes or undoes it",
                mark.deploy_id,
                mark.restore,
                mark.version,
                target.target.join(" ")
            );
        }
        match live.len() {
            0 => {}
            1 => {
                let _ = writeln!(text, "\nevery reachable host is on {}", live.keys().next().expect("one"));
            }
            _ => {
                let _ = writeln!(text, "\ndrift: {} releases are live:", live.len());
                for (release, on) in &live {
                    let _ = writeln!(text, "  {release} on {}", on.join(", "));
                }
            }
        }
        output::stdout(&text);
    }
    Ok(status_exit(run, &hosts, live.len()))
}

/// What `status` exits with, so scripts can act on it: 1 when a host could not be
/// read, 4 when hosts run different releases (drift), 5 when a lock is stale (its
/// holder's process is gone), else 0.
fn status_exit(run: RunStatus, hosts: &[HostStatus], live_releases: usize) -> Exit {
    if run != RunStatus::Success {
        Exit::Failed
    } else if live_releases > 1 {
        Exit::Partial
    } else if hosts.iter().any(|host| host.lock.as_ref().is_some_and(|lock| lock.stale)) {
        Exit::Locked
    } else {
        Exit::Success
    }
}

pub(crate) fn lock_status(global: &GlobalArgs, target: &Target) -> Result<Exit, CliError> {
    let (hosts, observed) = gather(global, target)?;
    let run = observed.run;
    if global.json {
        let value: Vec<_> = hosts
            .iter()
            .map(|host| serde_json::json!({ "host": host.host, "reachable": host.reachable, "lock": host.lock }))
            .collect();
        output::stdout(&format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default()));
    } else {
        let mut text = String::new();
        for host in &hosts {
            let state = if host.reachable { describe_lock(host.lock.as_ref()) } else { "unreachable".to_owned() };
            let _ = writeln!(text, "{}  {state}", host.host);
        }
        output::stdout(&text);
    }
    Ok(if run == RunStatus::Success { Exit::Success } else { Exit::Failed })
}

pub(crate) fn lock_release(global: &GlobalArgs, target: &Target, id: &str) -> Result<Exit, CliError> {
    let spec = CommandSpec::LockRelease { id: id.to_owned() };
    let request = PlanRequest { target: target.clone(), spec, branch: None, commit: None, release_stamp: None };
    let (config, plan) = build_plan(global, request)?;
    let collector = Collector::default();
    let outcome = run_plan(global, &config, &plan, &BTreeMap::new(), &collector)?;
    let messages = collector.messages.into_inner().expect("not poisoned");
    let mut text = String::new();
    for report in &outcome.hosts {
        let said = messages
            .get(&report.host)
            .and_then(|lines| lines.last())
            .and_then(|line| line.strip_prefix("deployer: "))
            .map(escape);
        match &report.result {
            deployer_exec::HostResult::Ok => {
                let _ = writeln!(text, "{}  {}", report.host, said.as_deref().unwrap_or("done"));
            }
            deployer_exec::HostResult::Failed { error, .. } | deployer_exec::HostResult::Unreachable { error } => {
                let failure = outcome.failures.iter().find(|failure| failure.host == report.host);
                let tail = failure
                    .map(|failure| failure.output_tail.iter().map(|line| escape(line)).collect::<Vec<_>>().join("; "))
                    .unwrap_or_default();
                // The host's own words when it refused; otherwise why it could not be asked.
                if tail.is_empty() {
                    let _ = writeln!(text, "{}  not released: {}", report.host, escape(error));
                } else {
                    let _ = writeln!(text, "{}  refused: {tail}", report.host);
                }
            }
            deployer_exec::HostResult::Skipped
            | deployer_exec::HostResult::Undone
            | deployer_exec::HostResult::NothingRan => {
                let _ = writeln!(text, "{}  not released: skipped", report.host);
            }
        }
    }
    output::stdout(&text);
    Ok(if outcome.status == RunStatus::Success { Exit::Success } else { Exit::Failed })
}

fn describe_lock(lock: Option<&LockStatus>) -> String {
    match lock {
        None => "free".to_owned(),
        Some(LockStatus { owner, stale }) => {
            let stale = if *stale { " (stale: that process is gone; `deployer lock release` with its id)" } else { "" };
            format!(
                "held by {}@{} (pid {}, `{}`) since {}, id {}{stale}",
                escape(&owner.user),
                escape(&owner.controller),
                owner.pid.map_or_else(|| "?".to_owned(), |pid| pid.to_string()),
                escape(&owner.command),
                escape(&owner.started),
                escape(&owner.id)
            )
        }
    }
}

/// A group deploy the environment's Auto Scaling group is marked by, when the
/// environment has a group and AWS says so; status never fails for it.
fn unfinished_group_deploy(global: &GlobalArgs, target: &Target) -> Option<deployer_plan::DeployMark> {
    let config = crate::context::load(global).ok()?;
    let target = crate::context::resolve_target(&config, target).ok()?;
    config.autoscaling_groups.group(&target.deployment, &target.environment)?;
    match crate::cloud::group_snapshot(&config, &target.deployment, &target.environment) {
        Ok(group) => group?.deploy,
        Err(error) => {
            if !global.json {
                output::stderr(&format!("warning: cannot read the auto scaling group: {error}\n"));
            }
            None
        }
    }
}

/// Whether the environment's web servers are an Auto Scaling group deployer
/// replaces (a group in `auto_scaling_groups`, hosts found by tags).
fn group_environment(global: &GlobalArgs, target: &Target) -> bool {
    let Ok(config) = crate::context::load(global) else { return false };
    let Ok(target) = crate::context::resolve_target(&config, target) else { return false };
    config.aws.discover_by_tags && config.autoscaling_groups.group(&target.deployment, &target.environment).is_some()
}
