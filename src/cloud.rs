//! The cloud provider a run hands its cloud steps to: AWS when the plan has any
//! and deployer was built with the `aws` feature; otherwise none, which refuses
//! each step with the reason.

use deployer_config::Config;
use deployer_exec::{Cloud, CloudDone, Launched, NoCloud};
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
        let needed = plan.phases.iter().flat_map(|phase| &phase.cloud).any(|step| !step.action.is_local());
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
    async fn run(&self, action: &CloudAction, launched: &Launched) -> Result<CloudDone, String> {
        match self {
            #[cfg(feature = "aws")]
            Self::Aws(aws) => aws.run(action, launched).await,
            #[cfg(feature = "aws")]
            Self::Unavailable(reason) => Err(reason.clone()),
            Self::None => NoCloud.run(action, launched).await,
        }
    }
}
