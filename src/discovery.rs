//! Where hosts the file does not list come from: a role's `command`, run here,
//! or with `aws.discover: tags` EC2's tags, asked once per run.

use std::time::Duration;

use deployer_config::{Config, DiscoveryRequest, HostString, RoleDiscovery, ShellDiscovery, TagRequest};

/// A role command may take this long before it counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct Discovery {
    commands: ShellDiscovery,
    tags: tags::TagDiscovery,
}

impl Discovery {
    pub(crate) fn new(config: &Config, deployment: &str) -> Self {
        Self {
            commands: ShellDiscovery { directory: config.directory().to_owned(), timeout: COMMAND_TIMEOUT },
            tags: tags::TagDiscovery::new(config, deployment),
        }
    }
}

impl RoleDiscovery for Discovery {
    fn discover(&mut self, request: &DiscoveryRequest<'_>) -> Result<String, String> {
        self.commands.discover(request)
    }

    fn discover_tagged(&mut self, request: &TagRequest<'_>) -> Result<Vec<HostString>, String> {
        self.tags.hosts(request)
    }
}

#[cfg(feature = "aws")]
mod tags {
    use deployer_aws::{Aws, TaggedFleet};
    use deployer_config::{AwsSettings, Config, HostString, TagRequest};

    /// One `DescribeInstances` for the whole run, made when a role first needs it.
    pub(super) struct TagDiscovery {
        settings: AwsSettings,
        deployment: String,
        fleet: Option<TaggedFleet>,
    }

    impl TagDiscovery {
        pub(super) fn new(config: &Config, deployment: &str) -> Self {
            Self { settings: config.aws.clone(), deployment: deployment.to_owned(), fleet: None }
        }

        pub(super) fn hosts(&mut self, request: &TagRequest<'_>) -> Result<Vec<HostString>, String> {
            if self.fleet.is_none() {
                self.fleet = Some(self.fetch(request.environment)?);
            }
            let fleet = self.fleet.as_ref().map(|fleet| fleet.role(request.role)).unwrap_or_default();
            fleet
                .iter()
                .map(|instance| {
                    instance.address.parse::<HostString>().map_err(|error| {
                        format!(
                            "instance {} has address `{}`, which is not a host: {error}",
                            instance.id, instance.address
                        )
                    })
                })
                .collect()
        }

        fn fetch(&self, environment: &str) -> Result<TaggedFleet, String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| format!("cannot start the AWS client: {error}"))?;
            runtime.block_on(async {
                let aws = Aws::connect(&self.settings).await.map_err(|error| error.to_string())?;
                aws.tagged_fleet(&self.deployment, environment, self.settings.ssh_address)
                    .await
                    .map_err(|error| error.to_string())
            })
        }
    }
}

#[cfg(not(feature = "aws"))]
mod tags {
    use deployer_config::{Config, HostString, TagRequest};

    /// Built without the `aws` feature: tag discovery says so.
    pub(super) struct TagDiscovery;

    impl TagDiscovery {
        pub(super) fn new(_config: &Config, _deployment: &str) -> Self {
            Self
        }

        pub(super) fn hosts(&mut self, _request: &TagRequest<'_>) -> Result<Vec<HostString>, String> {
            Err("this deployer was built without AWS support (the `aws` cargo feature)".to_owned())
        }
    }
}
