//! Commands that are cloud calls made from this machine: they run on no host.

use super::Compiler;
use crate::cloud::{CloudAction, CloudStep, ScalingProcess};
use crate::error::PlanError;
use crate::model::{Concurrency, Phase, Scope};

impl Compiler<'_> {
    /// The environment's Auto Scaling group (`auto_scaling_groups`).
    pub(super) fn autoscaling_group(&self, command: &'static str) -> Result<String, PlanError> {
        self.config
            .autoscaling_groups
            .group(self.input.deployment, &self.environment.name)
            .map(str::to_owned)
            .ok_or_else(|| PlanError::NoAutoScalingGroup {
                deployment: self.input.deployment.to_owned(),
                environment: self.environment.name.clone(),
                command,
            })
    }

    /// `suspend_autoscaling_processes` / `resume_autoscaling_processes`: one call,
    /// with every process when none is named (as `FabulAWS` did).
    pub(super) fn scaling_processes(
        &self,
        phases: &mut Vec<Phase>,
        suspend: bool,
        processes: &[ScalingProcess],
    ) -> Result<(), PlanError> {
        let command = if suspend { "suspend_autoscaling_processes" } else { "resume_autoscaling_processes" };
        let group = self.autoscaling_group(command)?;
        let processes = if processes.is_empty() { ScalingProcess::ALL.to_vec() } else { processes.to_vec() };
        let (name, title, action) = if suspend {
            ("suspend", "suspend auto scaling processes", CloudAction::SuspendProcesses { group, processes })
        } else {
            ("resume", "resume auto scaling processes", CloudAction::ResumeProcesses { group, processes })
        };
        phases.push(controller_phase(name, title, vec![CloudStep { title: title.to_owned(), action }]));
        Ok(())
    }
}

/// A phase of cloud steps, run on this machine.
pub(super) fn controller_phase(name: &str, description: &str, cloud: Vec<CloudStep>) -> Phase {
    let mut phase = Phase::new(name, description, Scope::Controller, Concurrency::Pool { size: 1 }, Vec::new());
    phase.cloud = cloud;
    phase
}
