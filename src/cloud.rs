//! The cloud provider a run hands its cloud steps to: AWS when the plan has any
//! and deployer was built with the `aws` feature; otherwise none, which refuses
//! each step with the reason.

use deployer_config::Config;
use deployer_exec::{Cloud, CloudDone, CloudState, NoCloud};
use deployer_plan::{CloudAction, Plan};

pub(crate) enum RunCloud {
    #[cfg(feature = "aws")]
    Aws(deployer_aws::Aws),
    /// The provider could not be set up: every cloud step fails with this reason.
    #[cfg(feature = "aws")]
    Unavailable(String),
    None,
}

impl RunCloud {
    /// Loads the AWS configuration only for plans with cloud steps: an SSH-only
    /// deploy never reads `~/.aws` or asks for credentials.
    pub(crate) async fn for_plan(config: &Config, plan: &Plan) -> Self {
        // Local hook commands need no cloud: only real cloud calls connect to AWS.
        let needed = plan.phases.iter().any(|phase| phase.traffic.is_some())
            || plan.phases.iter().flat_map(|phase| &phase.cloud).any(|step| !step.action.is_local());
        #[cfg(feature = "aws")]
        if needed {
            return match deployer_aws::Aws::connect(&config.aws).await {
                Ok(aws) => Self::Aws(aws),
                Err(error) => Self::Unavailable(error.to_string()),
            };
        }
        let _ = (config, needed);
        Self::None
    }
}

impl Cloud for RunCloud {
    async fn run(&self, action: &CloudAction, state: &CloudState) -> Result<CloudDone, String> {
        match self {
            #[cfg(feature = "aws")]
            Self::Aws(aws) => aws.run(action, state).await,
            #[cfg(feature = "aws")]
            Self::Unavailable(reason) => Err(reason.clone()),
            Self::None => NoCloud.run(action, state).await,
        }
    }
}

/// The environment's Auto Scaling group as AWS describes it now (read-only), for
/// commands that change it; `None` when the environment names no group (the plan
/// says so).
pub(crate) fn group_snapshot(
    config: &Config,
    deployment: &str,
    environment: &str,
) -> Result<Option<deployer_plan::GroupSnapshot>, crate::context::CliError> {
    let Some(name) = config.autoscaling_groups.group(deployment, environment) else { return Ok(None) };
    #[cfg(feature = "aws")]
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(crate::context::CliError::Runtime)?;
        runtime
            .block_on(async {
                let aws = deployer_aws::Aws::connect(&config.aws).await?;
                aws.group_snapshot(name).await
            })
            .map(Some)
            .map_err(|error| crate::context::CliError::Cloud(format!("auto scaling group `{name}`: {error}")))
    }
    #[cfg(not(feature = "aws"))]
    {
        Err(crate::context::CliError::Cloud(format!(
            "auto scaling group `{name}`: this deployer was built without AWS support (the `aws` cargo feature)"
        )))
    }
}
