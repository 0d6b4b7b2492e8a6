//! Elastic Load Balancing target groups: the instances a deploy's group launched while
//! `AddToLoadBalancer` was suspended are registered by deployer (AWS never does it
//! for them, not even on resume), and must be `healthy` before an old one goes.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};

use crate::{Aws, AwsError};

/// Between two looks at target health.
const POLL: Duration = Duration::from_secs(3);

fn call<E>(operation: &'static str, error: &aws_sdk_elasticloadbalancingv2::error::SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_parts(operation, error.code(), error.message(), error)
}

fn targets(ids: &[String]) -> Vec<TargetDescription> {
    ids.iter().map(|id| TargetDescription::builder().id(id).build()).collect()
}

impl Aws {
    /// Registers `ids` in every one of `target_groups`, then waits until each is
    /// `healthy` in each (an `unhealthy` answer fails at once, with its reason).
    pub async fn register_targets(
        &self,
        target_groups: &[String],
        ids: &[String],
        timeout: u32,
    ) -> Result<(), AwsError> {
        for group in target_groups {
            self.elbv2
                .register_targets()
                .target_group_arn(group)
                .set_targets(Some(targets(ids)))
                .send()
                .await
                .map_err(|error| call("RegisterTargets", &error))?;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(timeout));
        loop {
            let mut waiting = Vec::new();
            for group in target_groups {
                let health = self
                    .elbv2
                    .describe_target_health()
                    .target_group_arn(group)
                    .set_targets(Some(targets(ids)))
                    .send()
                    .await
                    .map_err(|error| call("DescribeTargetHealth", &error))?;
                for description in health.target_health_descriptions() {
                    let id = description.target().and_then(|target| target.id()).unwrap_or_default();
                    let state = description.target_health().and_then(|health| health.state());
                    match state {
                        Some(TargetHealthStateEnum::Healthy) => {}
                        Some(TargetHealthStateEnum::Unhealthy) => {
                            let reason = description
                                .target_health()
                                .and_then(|health| health.description())
                                .unwrap_or("no reason given");
                            return Err(AwsError::Answer(format!("instance {id} is unhealthy in {group}: {reason}")));
                        }
                        other => {
                            waiting.push(format!("{id} ({})", other.map_or("unknown", TargetHealthStateEnum::as_str)));
                        }
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AwsError::Answer(format!(
                    "not healthy in the target groups after {timeout}s: {}",
                    waiting.join(", ")
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn deregister_targets(&self, target_groups: &[String], ids: &[String]) -> Result<(), AwsError> {
        if ids.is_empty() {
            return Ok(());
        }
        for group in target_groups {
            self.elbv2
                .deregister_targets()
                .target_group_arn(group)
                .set_targets(Some(targets(ids)))
                .send()
                .await
                .map_err(|error| call("DeregisterTargets", &error))?;
        }
        Ok(())
    }
}
