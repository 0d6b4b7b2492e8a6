//! `deploy_serial` on web servers behind load balancer target groups, outside an
//! Auto Scaling group (`FabulAWS`'s `deploy_serial_without_autoscaling`): each
//! server leaves its target groups before it switches and rejoins them after its
//! health check, so no request meets a half-restarted server.

use super::Compiler;
use crate::error::PlanError;
use crate::model::{Concurrency, Phase, Traffic};

impl Compiler<'_> {
    /// The target groups of the rollout's servers of the role behind the load
    /// balancer (`aws.autoscaling_role`), when the environment names some.
    /// Refused when a batch or wave would take every one of them out at once.
    pub(super) fn traffic(&self, rollout: &Phase) -> Result<Option<Traffic>, PlanError> {
        let target_groups = self.config.target_groups.of(self.input.deployment, &self.environment.name);
        if target_groups.is_empty() {
            return Ok(None);
        }
        let role = &self.config.aws.autoscaling_role;
        let behind = |host: usize| self.hosts[host].roles.contains(role);
        let hosts: Vec<usize> = rollout.work.iter().map(|work| work.host).filter(|&host| behind(host)).collect();
        if hosts.len() < 2 {
            return Err(PlanError::Unsafe(format!(
                "`target_groups` has {} `{role}` server(s) behind it in this run: taking one out would leave \
                 nothing to serve; `deploy_full` (with the maintenance page) fits one server",
                hosts.len()
            )));
        }
        let chunks: Vec<usize> = match &rollout.concurrency {
            Concurrency::Batches { size } => rollout.work.chunks((*size).max(1) as usize).map(<[_]>::len).collect(),
            Concurrency::Waves { sizes } => sizes.iter().map(|&size| size as usize).collect(),
            Concurrency::Pool { .. } => vec![rollout.work.len()],
        };
        let mut start = 0;
        for (number, size) in chunks.into_iter().enumerate() {
            let end = (start + size).min(rollout.work.len());
            let out = rollout.work[start..end].iter().filter(|work| behind(work.host)).count();
            if out == hosts.len() {
                return Err(PlanError::Unsafe(format!(
                    "batch {} would take all {out} `{role}` servers out of the target groups at once: use a smaller \
                     `--batch-size` or more waves",
                    number + 1
                )));
            }
            start = end;
        }
        let timeouts = &self.config.aws.timeouts;
        Ok(Some(Traffic {
            target_groups: target_groups.to_vec(),
            hosts,
            drain_timeout: timeouts.drained,
            healthy_timeout: timeouts.healthy,
        }))
    }
}
