//! The plan as a person reads it: phases in order, hosts grouped by identical
//! steps, and every step's exact script (secrets redacted).

use std::fmt::Write;

use indexmap::IndexMap;

use crate::cloud::CloudStep;
use crate::model::{Concurrency, HostWork, Phase, Plan, Scope, Step};

/// Host names listed before "and N more".
const HOSTS_SHOWN: usize = 8;

impl Plan {
    /// The plan as text. Deterministic: the same plan gives the same text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "plan: {} {} {}", self.command, self.deployment, self.environment);
        if let Some(revision) = &self.revision {
            match &revision.branch {
                Some(branch) => {
                    let _ = writeln!(out, "commit: {} (branch {branch})", revision.commit);
                }
                None => {
                    let _ = writeln!(out, "commit: {}", revision.commit);
                }
            }
        }
        if let Some(release) = &self.release_id {
            let _ = writeln!(out, "release: {release}");
        }
        if let Some(shipping) = &self.shipping {
            shipping_text(&mut out, shipping);
        }
        let _ = writeln!(out, "deploy root: {}", self.deploy_root);
        let _ = writeln!(out, "deploy id: {}", self.deploy_id);
        if let Some(question) = &self.confirmation {
            let _ = writeln!(out, "asks first: {question}");
        }
        if self.hosts.is_empty() {
            let _ = writeln!(out, "hosts: none; every step is a cloud call from this machine");
        } else {
            let _ = writeln!(out, "hosts ({}):", self.hosts.len());
        }
        for host in &self.hosts {
            let roles = if host.roles.is_empty() { "-".to_owned() } else { host.roles.join(",") };
            let launch = match &host.launch {
                Some(slot) => match &slot.zone {
                    Some(zone) => format!("  (launched by this run, zone {zone})"),
                    None => "  (launched by this run)".to_owned(),
                },
                None => String::new(),
            };
            let _ = writeln!(out, "  {}  {roles}{launch}", host.name);
        }
        for (number, phase) in self.phases.iter().enumerate() {
            let _ = writeln!(out);
            let heading = format!("phase {}/{}: {}: {}", number + 1, self.phases.len(), phase.name, phase.description);
            self.write_phase(&mut out, &heading, phase);
        }
        for follow_up in &self.follow_ups {
            let _ = writeln!(out);
            let phase = &follow_up.phase;
            let heading =
                format!("after the run, {}: {}: {}", follow_up.when.describe(), phase.name, phase.description);
            self.write_phase(&mut out, &heading, phase);
        }
        out
    }

    /// One phase: its heading, where and how it runs, its steps and its undo.
    fn write_phase(&self, out: &mut String, heading: &str, phase: &Phase) {
        let _ = writeln!(out, "{heading}");
        let scope = match &phase.scope {
            Scope::All => "every host".to_owned(),
            Scope::Role { role } => format!("the `{role}` hosts"),
            Scope::Once { role } => format!("one `{role}` host"),
            Scope::Controller if phase.cloud.iter().all(|step| step.action.is_local()) => "this machine".to_owned(),
            Scope::Controller => "this machine, through the cloud API".to_owned(),
        };
        let pace = match &phase.concurrency {
            Concurrency::Pool { size } => format!("{size} at a time"),
            Concurrency::Batches { size } => format!("in batches of {size}, each finished before the next"),
            Concurrency::Waves { sizes } => format!("in {} waves, each finished before the next", sizes.len()),
        };
        if phase.scope == Scope::Controller {
            let _ = writeln!(out, "  runs on {scope}");
            write_cloud(out, &phase.cloud, "  ");
            if !phase.retires.is_empty() {
                let names: Vec<&str> = phase.retires.iter().map(|&host| self.hosts[host].name.as_str()).collect();
                let _ = writeln!(out, "  then these servers are gone (with their locks): {}", names.join(", "));
            }
            if !phase.cloud_undo.is_empty() {
                let _ = writeln!(out, "  if this phase or a later one fails:");
                write_cloud(out, &phase.cloud_undo, "    ");
            }
            return;
        }
        let _ = writeln!(out, "  runs on {scope} ({}), {pace}", hosts(phase.work.len()));
        if let Concurrency::Batches { size } = phase.concurrency {
            for (number, batch) in phase.work.chunks(size.max(1) as usize).enumerate() {
                let names: Vec<&str> = batch.iter().map(|work| self.hosts[work.host].name.as_str()).collect();
                let _ = writeln!(out, "  batch {}: {}", number + 1, names.join(", "));
            }
        }
        if let Concurrency::Waves { sizes } = &phase.concurrency {
            let mut start = 0;
            for (number, &size) in sizes.iter().enumerate() {
                let end = (start + size as usize).min(phase.work.len());
                let names: Vec<&str> =
                    phase.work[start..end].iter().map(|work| self.hosts[work.host].name.as_str()).collect();
                let _ = writeln!(out, "  wave {} ({}): {}", number + 1, hosts(names.len()), names.join(", "));
                start = end;
            }
            if let Some(gate) = &phase.between_waves {
                let check = match &gate.command {
                    Some(command) => {
                        format!("then the gate `{command}` on this machine (at most {}s)", gate.timeout)
                    }
                    None => "no gate".to_owned(),
                };
                let _ = writeln!(out, "  after each wave but the last: bake {}s, {check}", gate.bake);
            }
        }
        if let Some(derivation) = &phase.derives {
            let _ = writeln!(out, "  {}", derivation.describe());
        }
        if let Some(traffic) = &phase.traffic {
            let names: Vec<&str> = traffic.hosts.iter().map(|&host| self.hosts[host].name.as_str()).collect();
            let _ = writeln!(
                out,
                "  each of {} leaves target group(s) {} before its steps (until its connections drained, at most \
                 {}s) and rejoins them after, also after a switch back (until healthy, at most {}s)",
                names.join(", "),
                traffic.target_groups.join(", "),
                traffic.drain_timeout,
                traffic.healthy_timeout
            );
        }
        self.write_groups(out, &phase.work, "  ");
        if !phase.undo.is_empty() {
            let _ = writeln!(out, "  if this phase or a later one fails, on each host where this one started:");
            self.write_groups(out, &phase.undo, "    ");
        }
    }

    fn write_groups(&self, out: &mut String, work: &[HostWork], indent: &str) {
        let mut groups: IndexMap<String, (Vec<usize>, &[Step])> = IndexMap::new();
        for item in work {
            let key: String = item.steps.iter().fold(String::new(), |mut key, step| {
                let _ = write!(key, "{}\0{}\0{}\0", step.title, step.timeout, step.script);
                key
            });
            groups.entry(key).or_insert_with(|| (Vec::new(), &item.steps)).0.push(item.host);
        }
        for (hosts, steps) in groups.values() {
            let mut names: Vec<&str> =
                hosts.iter().take(HOSTS_SHOWN).map(|&index| self.hosts[index].name.as_str()).collect();
            let more = hosts.len().saturating_sub(HOSTS_SHOWN);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            names.dedup();
            let _ = writeln!(out, "{indent}on {}{more}:", names.join(", "));
            for (number, step) in steps.iter().enumerate() {
                let _ =
                    writeln!(out, "{indent}  {}. {} [{}, {}s]", number + 1, step.title, kind_name(step), step.timeout);
                for line in step.script.to_string().lines() {
                    let _ = writeln!(out, "{indent}     | {line}");
                }
            }
        }
    }
}

fn write_cloud(out: &mut String, steps: &[CloudStep], indent: &str) {
    for (number, step) in steps.iter().enumerate() {
        let _ = writeln!(out, "{indent}{}. {}", number + 1, step.title);
        let _ = writeln!(out, "{indent}   | {}", step.action.describe());
    }
}

fn kind_name(step: &Step) -> String {
    serde_json::to_value(step.kind).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// `1 host`, `3 hosts`, `no host`: plan text reads naturally at every count.
pub fn hosts(count: usize) -> String {
    match count {
        0 => "no host".to_owned(),
        1 => "1 host".to_owned(),
        count => format!("{count} hosts"),
    }
}

/// `ships: 3 commits since ...`, their subjects and the migrations among the changes.
fn shipping_text(out: &mut String, shipping: &crate::model::Shipping) {
    let since = &shipping.since_commit[..shipping.since_commit.len().min(7)];
    let release = shipping.since_release.as_deref().map(|release| format!(", release {release}")).unwrap_or_default();
    if shipping.commits == 0 {
        let _ = writeln!(out, "ships: the commit this machine last deployed here ({since}{release}) again");
        return;
    }
    let commits = if shipping.commits == 1 { "1 commit".to_owned() } else { format!("{} commits", shipping.commits) };
    let _ = writeln!(out, "ships: {commits} since the last deploy from this machine ({since}{release}):");
    for subject in &shipping.subjects {
        let _ = writeln!(out, "  {subject}");
    }
    if shipping.commits > shipping.subjects.len() {
        let _ = writeln!(out, "  ... and {} more", shipping.commits - shipping.subjects.len());
    }
    if shipping.migrations_changed.is_empty() {
        let _ = writeln!(out, "  no migration files changed");
    } else {
        let _ = writeln!(out, "  migration files changed: {}", shipping.migrations_changed.join(", "));
    }
}
