//! Auto Scaling: suspending and resuming a group's processes, and the executor's
//! [`Cloud`] for AWS.

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use deployer_exec::{Cloud, CloudDone, Launched};
use deployer_plan::{CloudAction, ScalingProcess};

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

impl Cloud for Aws {
    async fn run(&self, action: &CloudAction, launched: &Launched) -> Result<CloudDone, String> {
        // Only instances this run launched: a slot never launched has none.
        let ids_of = |hosts: &[usize]| -> Vec<String> {
            hosts.iter().filter_map(|host| launched.get(host)).map(|instance| instance.id.clone()).collect()
        };
        let result = match action {
            CloudAction::SuspendProcesses { group, processes } => {
                self.suspend_processes(group, processes).await.map(|()| format!("suspended on `{group}`").into())
            }
            CloudAction::ResumeProcesses { group, processes } => {
                self.resume_processes(group, processes).await.map(|()| format!("resumed on `{group}`").into())
            }
            CloudAction::LaunchInstances { hosts, spec } => self.launch(spec, hosts.len()).await.map(|launched| {
                let ids: Vec<&str> = launched.iter().map(|instance| instance.id.as_str()).collect();
                CloudDone { note: format!("launched {}", ids.join(", ")), launched }
            }),
            CloudAction::TerminateInstances { hosts } => {
                let ids = ids_of(hosts);
                self.terminate(&ids).await.map(|()| format!("terminated {}", describe_ids(&ids)).into())
            }
            CloudAction::TagInstances { hosts, tags } => {
                let ids = ids_of(hosts);
                self.tag(&ids, tags).await.map(|()| format!("tagged {}", describe_ids(&ids)).into())
            }
            // The executor runs these itself; none reaches a cloud.
            CloudAction::LocalCommand { .. } | CloudAction::WaitForSsh { .. } => {
                return Err("this step is not a cloud call".to_owned());
            }
        };
        result.map_err(|error| error.to_string())
    }
}

fn describe_ids(ids: &[String]) -> String {
    if ids.is_empty() { "nothing (no server was launched)".to_owned() } else { ids.join(", ") }
}
