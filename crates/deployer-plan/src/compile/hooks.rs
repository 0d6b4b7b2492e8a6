//! `hooks:`: each step of a hook point becomes a phase at its boundary in a
//! deploy: on hosts (`run:`, all of the step's roles or one host) or on this
//! machine (`local:`, a controller phase). Hook phases undo nothing themselves
//! (what they did is the team's); a failing one fails the deploy like any phase,
//! so a failing `before_switch` leaves nothing switched.

use deployer_config::{HookPoint, HookStep};

use super::{Compiler, ReleaseInfo};
use crate::cloud::{CloudAction, CloudStep};
use crate::error::PlanError;
use crate::model::{FollowUp, Phase, Scope, When};

impl Compiler<'_> {
    /// A deploy's `after_deploy`, `on_failure` and `on_rollback` steps, which run
    /// after its outcome is fixed.
    pub(super) fn follow_ups(&self, release: &ReleaseInfo) -> Result<Vec<FollowUp>, PlanError> {
        let mut follow_ups = Vec::new();
        for (point, when) in [
            (HookPoint::AfterDeploy, When::Succeeded),
            (HookPoint::OnFailure, When::Failed),
            (HookPoint::OnRollback, When::RolledBack),
        ] {
            for phase in self.hook_phases_with(point, release, when.outcome_word())? {
                follow_ups.push(FollowUp { when, phase });
            }
        }
        Ok(follow_ups)
    }

    /// The phases of every `point` hook step, in the file's order.
    pub(super) fn hook_phases(&self, point: HookPoint, release: &ReleaseInfo) -> Result<Vec<Phase>, PlanError> {
        self.hook_phases_with(point, release, "")
    }

    /// [`Compiler::hook_phases`], telling host steps the outcome (`DEPLOYER_OUTCOME`).
    fn hook_phases_with(
        &self,
        point: HookPoint,
        release: &ReleaseInfo,
        outcome: &str,
    ) -> Result<Vec<Phase>, PlanError> {
        let hosts: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
        let hosts = hosts.join(" ");
        let mut phases = Vec::new();
        for step in self.config.hooks.iter().filter(|hook| hook.point == point).flat_map(|hook| &hook.steps) {
            let name = point.name();
            match step {
                HookStep::Run { command, roles, once, timeout } => {
                    let script = self.steps.hook(
                        name,
                        (&release.id, &release.revision.commit),
                        (&hosts, outcome),
                        command,
                        *timeout,
                    );
                    let mut work = self.on_roles(roles, &script);
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
