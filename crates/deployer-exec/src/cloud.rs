//! The boundary between the executor and cloud APIs: controller-side phases
//! ([`Scope::Controller`](deployer_plan::Scope)) hand their typed steps to a
//! [`Cloud`]. `deployer-aws` provides AWS; [`NoCloud`] refuses every action.

use std::future::Future;

use deployer_plan::CloudAction;

/// Performs cloud actions for the executor.
pub trait Cloud: Sync {
    /// Performs `action`. `Ok` carries a short note for the log (what changed);
    /// `Err` says why it could not be done, in the operator's words.
    fn run(&self, action: &CloudAction) -> impl Future<Output = Result<String, String>> + Send;
}

/// For runs without a cloud provider (a plan with no cloud steps, or a deployer
/// built without one).
pub struct NoCloud;

impl Cloud for NoCloud {
    async fn run(&self, action: &CloudAction) -> Result<String, String> {
        Err(format!("no cloud provider to {} (deployer was built without the `aws` feature)", action.describe()))
    }
}
