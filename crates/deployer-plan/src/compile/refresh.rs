//! `deploy_serial` on a group with `aws.deploy_serial: refresh`: AWS's instance
//! refresh replaces the instances (launch before terminate), and deployer checks
//! the new ones over ssh when it ends.
//!
//! The build and the servers outside the group go as in the default `replace`;
//! then one refresh to the new launch template version, which AWS keeps going if
//! deployer dies (`describe` shows it; a new deploy refuses to start over it).
//! The group's deploy marks are not needed: the refresh is the record.

use super::cloud::controller_phase;
use super::group::{Parts, builder_of, step, with_undo};
use super::{Compiler, ReleaseInfo};
use crate::cloud::{CloudAction, ScalingProcess};
use crate::error::PlanError;
use crate::input::{GroupSnapshot, TemplateVersion};
use crate::model::Phase;

/// Processes an instance refresh needs: without them it cannot launch,
/// terminate, or put the new instances behind the load balancer.
const NEEDED: [ScalingProcess; 4] = [
    ScalingProcess::Launch,
    ScalingProcess::Terminate,
    ScalingProcess::AddToLoadBalancer,
    ScalingProcess::InstanceRefresh,
];

impl Compiler<'_> {
    pub(super) fn deploy_serial_refresh(
        &self,
        phases: &mut Vec<Phase>,
        release: &ReleaseInfo,
        (group, template): (&GroupSnapshot, &TemplateVersion),
        parts: &Parts,
        batch: usize,
    ) -> Result<(), PlanError> {
        if let Some(process) = NEEDED.iter().find(|process| group.suspended.contains(process)) {
            return Err(PlanError::Unsafe(format!(
                "auto scaling group `{}` has {} suspended, which an instance refresh needs: `deployer \
                 resume_autoscaling_processes` first, or use `aws.deploy_serial: replace`",
                group.name,
                process.name()
            )));
        }
        self.build_phases(phases, release, parts)?;
        self.image_phases(phases, group, template, builder_of(parts)?)?;
        phases.extend(self.outside_phases(release, parts)?);
        let timeout = self.config.aws.timeouts.refresh;
        let refresh = CloudAction::RefreshInstances {
            group: group.name.clone(),
            template: template.id.clone(),
            max_healthy: max_healthy(batch, group.desired),
            hosts: parts.new.clone(),
            timeout,
        };
        let back = CloudAction::RefreshBack {
            group: group.name.clone(),
            template: template.id.clone(),
            version: template.version,
            image: template.image.clone(),
            timeout,
        };
        let mut replace = with_undo(
            controller_phase(
                "refresh",
                "replace the group's instances with an instance refresh",
                vec![step("refresh the instances", refresh)],
            ),
            vec![step("put the group back on its version", back)],
        );
        replace.retires.clone_from(&parts.old_hosts);
        phases.push(replace);
        self.verify_phases(phases, &release.id, parts)?;
        phases.extend(self.finish_outside(release, parts)?);
        Ok(())
    }
}

/// `MaxHealthyPercentage` for batches of `batch` among `desired` instances: the
/// refresh launches at most a batch beyond the capacity (AWS allows up to 200).
fn max_healthy(batch: usize, desired: u32) -> u32 {
    let desired = desired.max(1) as usize;
    let extra = (batch.max(1) * 100).div_ceil(desired);
    u32::try_from(100 + extra.min(100)).unwrap_or(200)
}

#[cfg(test)]
mod tests {
    use super::max_healthy;

    #[test]
    fn a_batch_is_the_most_launched_beyond_the_capacity() {
        assert_eq!(max_healthy(1, 4), 125);
        assert_eq!(max_healthy(2, 4), 150);
        assert_eq!(max_healthy(1, 3), 134, "rounded up, so one instance fits");
        assert_eq!(max_healthy(10, 4), 200, "never above what AWS allows");
        assert_eq!(max_healthy(0, 0), 200);
    }
}
