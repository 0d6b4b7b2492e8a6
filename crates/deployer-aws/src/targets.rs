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

#[cfg(test)]
mod tests {
    //! What moto cannot emulate (targets that stay `initial` or turn `unhealthy`,
    //! throttling), against a stub that answers the Elastic Load Balancing query
    //! API with canned XML on 127.0.0.1.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use crate::Aws;

    const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

    fn health(state: &str, description: &str) -> (u16, String) {
        (
            200,
            format!(
                "<DescribeTargetHealthResponse xmlns=\"{XMLNS}\"><DescribeTargetHealthResult><TargetHealthDescriptions>\
                 <member><Target><Id>i-0abc1234</Id><Port>80</Port></Target><TargetHealth><State>{state}</State>\
                 <Description>{description}</Description></TargetHealth></member></TargetHealthDescriptions>\
                 </DescribeTargetHealthResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>\
                 </DescribeTargetHealthResponse>"
            ),
        )
    }

    fn throttled() -> (u16, String) {
        (
            400,
            format!(
                "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>Throttling</Code>\
                 <Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            ),
        )
    }

    /// Serves `answers` to `DescribeTargetHealth` calls in order (the last one
    /// again once they run out), and success to `RegisterTargets`; records each
    /// call's action.
    fn stub(answers: Vec<(u16, String)>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        std::thread::spawn(move || {
            let mut answers = answers.into_iter().peekable();
            let mut last = None;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).into_owned();
                let action = body.split('&').find_map(|pair| pair.strip_prefix("Action=")).unwrap_or("").to_owned();
                seen.lock().unwrap().push(action.clone());
                let (status, xml) = if action == "DescribeTargetHealth" {
                    let answer = answers.next().or_else(|| last.clone()).unwrap();
                    last = Some(answer.clone());
                    answer
                } else {
                    (
                        200,
                        format!(
                            "<{action}Response xmlns=\"{XMLNS}\"><{action}Result/><ResponseMetadata><RequestId>1\
                             </RequestId></ResponseMetadata></{action}Response>"
                        ),
                    )
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                    xml.len()
                );
            }
        });
        (endpoint, calls)
    }

    async fn client(endpoint: &str) -> Aws {
        let credentials =
            aws_sdk_elasticloadbalancingv2::config::Credentials::new("testing", "testing", None, None, "test");
        // deployer's own client configuration (HTTP client, retries), pointed at the stub.
        let shared = crate::client::base_loader()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .load()
            .await;
        Aws::from_config(&shared, deployer_config::SshAddress::PrivateIpAddress)
    }

    const GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0abc";

    #[tokio::test]
    async fn an_unhealthy_target_fails_at_once_with_the_load_balancers_reason() {
        let (endpoint, calls) = stub(vec![health("unhealthy", "Health checks failed with these codes: [502]")]);
        let aws = client(&endpoint).await;
        let error = aws.register_targets(&[GROUP.to_owned()], &["i-0abc1234".to_owned()], 600).await.unwrap_err();
        assert!(
            error.to_string().contains("instance i-0abc1234 is unhealthy in") && error.to_string().contains("[502]"),
            "{error}"
        );
        assert_eq!(*calls.lock().unwrap(), ["RegisterTargets", "DescribeTargetHealth"], "no wait for a verdict");
    }

    #[tokio::test]
    async fn throttling_is_retried_and_initial_targets_are_waited_for() {
        let answers = vec![throttled(), health("initial", "Elb.InitialHealthChecking"), health("healthy", "")];
        let (endpoint, calls) = stub(answers);
        let aws = client(&endpoint).await;
        aws.register_targets(&[GROUP.to_owned()], &["i-0abc1234".to_owned()], 600).await.unwrap();
        assert_eq!(
            *calls.lock().unwrap(),
            ["RegisterTargets", "DescribeTargetHealth", "DescribeTargetHealth", "DescribeTargetHealth"],
            "the throttled call was tried again by the SDK, then the wait went on until healthy"
        );
    }

    #[tokio::test]
    async fn targets_that_never_become_healthy_fail_when_the_wait_ends() {
        let (endpoint, _) = stub(vec![health("initial", "Elb.InitialHealthChecking")]);
        let aws = client(&endpoint).await;
        let error = aws.register_targets(&[GROUP.to_owned()], &["i-0abc1234".to_owned()], 1).await.unwrap_err();
        assert!(
            error.to_string().contains("not healthy in the target groups after 1s: i-0abc1234 (initial)"),
            "{error}"
        );
    }
}
