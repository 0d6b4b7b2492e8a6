//! `recover`: a group deploy that died (deployer killed, the machine lost) left
//! its marks in AWS (`MarkDeploy`). From them alone this finishes or undoes it:
//!
//! - every instance it tagged to retire still in the group: the cull never
//!   started, so it is undone: every other instance of the group is terminated,
//!   the group goes back to its version and capacity;
//! - some already gone: the cull started, so it is finished: the remaining old
//!   instances are terminated and the capacity restored, on the new version (after
//!   a `deploy_serial`, the group itself replaces what the remaining batches
//!   would have, without deployer's checks: run `deploy_serial` again instead
//!   when that matters).
//!
//! Either way the processes resume and the marks go. Servers outside the group
//! are not touched: `deployer status` shows where they are, `rollback` and
//! `lock release` act on them.

use super::Compiler;
use super::cloud::controller_phase;
use crate::cloud::{CloudAction, CloudStep};
use crate::error::PlanError;
use crate::model::Phase;

impl Compiler<'_> {
    pub(super) fn recover(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        let (group, template) = self.group_template("recover")?;
        let Some(mark) = &group.deploy else {
            return Err(PlanError::Unsafe(format!(
                "auto scaling group `{}` carries no deploy's mark: there is nothing to recover",
                group.name
            )));
        };
        // The deploy marked as many instances to retire as the group's desired
        // capacity (it starts only on a group whose instances are all in service):
        // fewer still running means its cull had started.
        let members: Vec<&str> = group.instances.iter().map(|member| member.id.as_str()).collect();
        let all_old_remain = mark.retiring.len() >= mark.restore.desired as usize
            && mark.retiring.iter().all(|id| members.contains(&id.as_str()));
        let name = group.name.clone();
        let (label, mut steps) = if all_old_remain {
            (
                "undo",
                vec![CloudStep {
                    title: "put the group back".to_owned(),
                    action: CloudAction::ScaleBack {
                        group: name.clone(),
                        template: template.id.clone(),
                        version: mark.version,
                        capacity: mark.restore,
                        keep: mark.retiring.clone(),
                    },
                }],
            )
        } else {
            (
                "finish",
                vec![
                    CloudStep {
                        title: "terminate the remaining old instances".to_owned(),
                        action: CloudAction::Cull { group: name.clone(), instances: mark.retiring.clone() },
                    },
                    CloudStep {
                        title: "restore the capacity".to_owned(),
                        action: CloudAction::SetCapacity { group: name.clone(), capacity: mark.restore },
                    },
                ],
            )
        };
        steps.extend((!mark.suspends.is_empty()).then(|| CloudStep {
            title: "resume processes".to_owned(),
            action: CloudAction::ResumeProcesses { group: name.clone(), processes: mark.suspends.clone() },
        }));
        steps.push(CloudStep {
            title: "remove the deploy's tags".to_owned(),
            action: CloudAction::ClearDeploy { group: name, retire: mark.retiring.clone() },
        });
        let description = format!("{label} deploy {} of auto scaling group `{}`", mark.deploy_id, group.name);
        phases.push(controller_phase("recover", &description, steps));
        Ok(())
    }
}
