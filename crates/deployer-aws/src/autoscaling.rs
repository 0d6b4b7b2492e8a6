//! Auto Scaling: suspending and resuming a group's processes.

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use deployer_plan::ScalingProcess;

use crate::{Aws, AwsError};

impl Aws {
    /// `group` as AWS describes it; a group that does not exist is an error naming
    /// it (AWS's own answer to a call on a missing group is a generic validation
    /// error).
    pub(crate) async fn describe_group(&self, group: &str) -> Result<AutoScalingGroup, AwsError> {
        let found = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|error| call("DescribeAutoScalingGroups", &error))?;
        found
            .auto_scaling_groups()
            .first()
            .cloned()
            .ok_or_else(|| AwsError::Answer(format!("there is no auto scaling group `{group}`")))
    }

    async fn require_group(&self, group: &str) -> Result<(), AwsError> {
        self.describe_group(group).await.map(drop)
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

/// A group's tags, as (key, value) pairs.
pub(crate) fn group_tags(group: &AutoScalingGroup) -> Vec<(String, String)> {
    group
        .tags()
        .iter()
        .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value().unwrap_or_default().to_owned())))
        .collect()
}
