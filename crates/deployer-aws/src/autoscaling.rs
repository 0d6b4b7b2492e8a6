//! Auto Scaling: suspending and resuming a group's processes.

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use deployer_plan::ScalingProcess;

use crate::{Aws, AwsError};

impl Aws {
    /// Fails with a clear message when `group` does not exist: AWS's own answer to
    /// a suspend on a missing group is a generic validation error.
    async fn require_group(&self, group: &str) -> Result<(), AwsError> {
        let found = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|error| call("DescribeAutoScalingGroups", &error))?;
        if found.auto_scaling_groups().is_empty() {
            return Err(AwsError::Answer(format!("there is no auto scaling group `{group}`")));
        }
        Ok(())
    }

    pub async fn suspend_processes(&self, group: &str, processes: &[ScalingProcess]) -> Result<(), AwsError> {
        self.require_group(group).await?;
        self.autoscaling
            .suspend_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(names(processes)))
            .send()
            .await
            .map(drop)
            .map_err(|error| call("SuspendProcesses", &error))
    }

    pub async fn resume_processes(&self, group: &str, processes: &[ScalingProcess]) -> Result<(), AwsError> {
        self.require_group(group).await?;
        self.autoscaling
            .resume_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(names(processes)))
            .send()
            .await
            .map(drop)
            .map_err(|error| call("ResumeProcesses", &error))
    }
}

fn names(processes: &[ScalingProcess]) -> Vec<String> {
    processes.iter().map(|process| process.name().to_owned()).collect()
}

pub(crate) fn call<E>(operation: &'static str, error: &aws_sdk_autoscaling::error::SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_parts(operation, error.code(), error.message(), error)
}
