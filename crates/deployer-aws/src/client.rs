//! The SDK client, configured once per run from `aws:`: region, profile, an
//! emulator's endpoint, one pinned behaviour version, standard retries.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use deployer_config::AwsSettings;

use crate::AwsError;

/// Attempts per call, and the longest wait between two: enough to ride out
/// throttling, short enough that an unreachable endpoint fails in seconds, not
/// minutes (about 12 s in all).
const MAX_ATTEMPTS: u32 = 5;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Between two looks at something AWS is changing (instances starting, an image
/// being made, target health, a refresh).
const POLL: Duration = Duration::from_secs(3);

/// Clients for the services deployer uses, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Aws {
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) autoscaling: aws_sdk_autoscaling::Client,
    pub(crate) elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// The address of an instance deployer connects to (`ec2_attr_for_ssh`).
    pub(crate) ssh_address: deployer_config::SshAddress,
    /// Between two looks at something changing ([`POLL`]; tests use less).
    pub(crate) poll: Duration,
}

impl Aws {
    /// Loads the SDK's configuration: credentials from its standard chain
    /// (environment, profiles with SSO and `credential_process`, instance
    /// metadata), overridden only by what `aws:` names.
    ///
    /// Fails only when no region is known from any source: every call would fail
    /// with the SDK's "missing signing region", which names no remedy.
    pub async fn connect(settings: &AwsSettings) -> Result<Self, AwsError> {
        let mut loader = base_loader();
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            return Err(AwsError::Answer(
                "no AWS region: set `region` (FabulAWS's key) or `aws.region` in the file, or AWS_REGION, \
                 or a region in the profile"
                    .to_owned(),
            ));
        }
        Ok(Self::from_config(&shared, settings.ssh_address))
    }

    /// The clients of one loaded configuration.
    pub(crate) fn from_config(shared: &aws_config::SdkConfig, ssh_address: deployer_config::SshAddress) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(shared),
            autoscaling: aws_sdk_autoscaling::Client::new(shared),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(shared),
            ssh_address,
            poll: POLL,
        }
    }
}

/// The configuration every client starts from: one HTTP client (hyper 1 with
/// rustls and ring), the behaviour version pinned (not `latest`: an SDK upgrade
/// must not change defaults silently), standard retries.
pub(crate) fn base_loader() -> aws_config::ConfigLoader {
    let http =
        aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::v2026_01_12())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS).with_max_backoff(MAX_BACKOFF))
}
