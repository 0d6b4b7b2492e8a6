//! `hooks:`: each step of a hook point becomes a phase at its boundary in a
//! deploy: on hosts (`run:`, all of the step's roles or one host) or on this
//! machine (`local:`, a controller phase). Hook phases undo nothing themselves
//! (what they did is the team's); a failing one fails the deploy like any phase,
//! so a failing `before_switch` leaves nothing switched.

use deployer_config::{HookPoint, HookStep};

use super::{Compiler, ReleaseInfo};
use crate::cloud::{CloudAction, CloudStep};
use crate::error::PlanError;
use crate::model::{HostWork, Phase, Scope};

impl Compiler<'_> {
    /// The phases of every `point` hook step, in the file's order.
    pub(super) fn hook_phases(&self, point: HookPoint, release: &ReleaseInfo) -> Result<Vec<Phase>, PlanError> {
        let hosts: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
        let hosts = hosts.join(" ");
        let mut phases = Vec::new();
        for step in self.config.hooks.iter().filter(|hook| hook.point == point).flat_map(|hook| &hook.steps) {
            let name = point.name();
            match step {
                HookStep::Run { command, roles, once, timeout } => {
                    let plays =
                        |host_roles: &[String]| roles.is_empty() || host_roles.iter().any(|role| roles.contains(role));
                    let script =
                        self.steps.hook(name, (&release.id, &release.revision.commit), &hosts, command, *timeout);
                    let mut work: Vec<HostWork> = self
                        .hosts
                        .iter()
                        .enumerate()
                        .filter(|(_, host)| plays(&host.roles))
                        .map(|(index, _)| HostWork { host: index, steps: vec![script.clone()] })
                        .collect();
                    if work.is_empty() {
                        return Err(PlanError::Unsafe(format!(
                            "hook `{name}`: no targeted host plays {}",
                            roles.iter().map(|role| format!("`{role}`")).collect::<Vec<_>>().join(" or ")
                        )));
                    }
                    let scope = if *once {
                        work.truncate(1);
                        Scope::Once { role: roles.first().cloned().unwrap_or_default() }
                    } else if roles.len() == 1 {
                        Scope::Role { role: roles[0].clone() }
                    } else {
                        Scope::All
                    };
                    let concurrency = self.pool(work.len());
                    phases.push(Phase::new(name, &format!("hook `{name}` on the hosts"), scope, concurrency, work));
                }
                HookStep::Local { command, timeout } => {
                    let mut phase = Phase::new(
                        name,
                        &format!("hook `{name}` on this machine"),
                        Scope::Controller,
                        crate::model::Concurrency::Pool { size: 1 },
                        Vec::new(),
                    );
                    phase.cloud = vec![CloudStep {
                        title: format!("hook `{name}`"),
                        action: CloudAction::LocalCommand { command: command.clone(), timeout: *timeout },
                    }];
                    phases.push(phase);
                }
            }
        }
        Ok(phases)
    }
}
