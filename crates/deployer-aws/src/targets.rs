//! Elastic Load Balancing target groups: the instances a deploy's group launched while
//! `AddToLoadBalancer` was suspended are registered by deployer (AWS never does it
//! for them, not even on resume), and must be `healthy` before an old one goes.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};

use crate::{Aws, AwsError};

pub(crate) fn call<E>(operation: &'static str, error: &aws_sdk_elasticloadbalancingv2::error::SdkError<E>) -> AwsError
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
            tokio::time::sleep(self.poll).await;
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

#[cfg(test)]
mod tests {
    //! What moto cannot emulate (targets that stay `initial` or turn `unhealthy`,
    //! throttling), against a stub of the Elastic Load Balancing query API.

    use crate::stub::{Answer, ELBV2, Stub, error, ok};

    fn health(state: &str, description: &str) -> Answer {
        ok(
            ELBV2,
            "DescribeTargetHealth",
            &format!(
                "<TargetHealthDescriptions><member><Target><Id>i-0abc1234</Id><Port>80</Port></Target><TargetHealth>\
                 <State>{state}</State><Description>{description}</Description></TargetHealth></member>\
                 </TargetHealthDescriptions>"
            ),
        )
    }

    fn stub(answers: Vec<Answer>) -> Stub {
        Stub::serve(ELBV2, vec![("DescribeTargetHealth", answers)])
    }

    const GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0abc";

    #[tokio::test]
    async fn an_unhealthy_target_fails_at_once_with_the_load_balancers_reason() {
        let stub = stub(vec![health("unhealthy", "Health checks failed with these codes: [502]")]);
        let aws = stub.client().await;
        let error = aws.register_targets(&[GROUP.to_owned()], &["i-0abc1234".to_owned()], 600).await.unwrap_err();
        assert!(
            error.to_string().contains("instance i-0abc1234 is unhealthy in") && error.to_string().contains("[502]"),
            "{error}"
        );
        assert_eq!(stub.actions(), ["RegisterTargets", "DescribeTargetHealth"], "no wait for a verdict");
    }

    #[tokio::test]
    async fn throttling_is_retried_and_initial_targets_are_waited_for() {
        let throttled = error(ELBV2, 400, "Throttling", "Rate exceeded");
        let stub = stub(vec![throttled, health("initial", "Elb.InitialHealthChecking"), health("healthy", "")]);
        let aws = stub.client().await;
        aws.register_targets(&[GROUP.to_owned()], &["i-0abc1234".to_owned()], 600).await.unwrap();
        assert_eq!(
            stub.actions(),
            ["RegisterTargets", "DescribeTargetHealth", "DescribeTargetHealth", "DescribeTargetHealth"],
            "the throttled call was tried again by the SDK, then the wait went on until healthy"
        );
    }

    #[tokio::test]
    async fn targets_that_never_become_healthy_fail_when_the_wait_ends() {
        let stub = stub(vec![health("initial", "Elb.InitialHealthChecking")]);
        let aws = stub.client().await;
        let error = aws.register_targets(&[GROUP.to_owned()], &["i-0abc1234".to_owned()], 1).await.unwrap_err();
        assert!(
            error.to_string().contains("not healthy in the target groups after 1s: i-0abc1234 (initial)"),
            "{error}"
        );
    }
}
