//! The boundary between the executor and cloud APIs: controller-side phases
//! ([`Scope::Controller`](deployer_plan::Scope)) hand their typed steps to a
//! [`Cloud`]. `deployer-aws` provides AWS; [`NoCloud`] refuses every action.

use std::collections::BTreeMap;
use std::future::Future;

use deployer_plan::CloudAction;
use serde::Serialize;

/// A server the run launched, bound to its plan host (a launch slot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchedInstance {
    pub id: String,
    /// What deployer connects to (`ec2_attr_for_ssh`).
    pub address: String,
}

/// What the run's cloud steps made so far: the servers launched, by plan host,
/// and the ids later steps use ([`deployer_plan::made`]: the image, the launch
/// template version), by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudState {
    pub launched: BTreeMap<usize, LaunchedInstance>,
    pub made: BTreeMap<String, String>,
}

/// What a cloud action did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudDone {
    /// A short note for the log (what changed).
    pub note: String,
    /// For a launch: the instances, in the order of the action's hosts.
    pub launched: Vec<LaunchedInstance>,
    /// Ids the action made, by name ([`deployer_plan::made`]).
    pub made: Vec<(String, String)>,
}

impl From<String> for CloudDone {
    fn from(note: String) -> Self {
        Self { note, ..Self::default() }
    }
}

/// Performs cloud actions for the executor.
pub trait Cloud: Sync {
    /// Performs `action`, given what the run's cloud steps made so far (a
    /// terminate or a tag acts only on the servers this run launched). `Err`
    /// says why it could not be done, in the operator's words.
    fn run(&self, action: &CloudAction, state: &CloudState) -> impl Future<Output = Result<CloudDone, String>> + Send;
}

/// For runs without a cloud provider (a plan with no cloud steps, or a deployer
/// built without one).
pub struct NoCloud;

impl Cloud for NoCloud {
    async fn run(&self, action: &CloudAction, _state: &CloudState) -> Result<CloudDone, String> {
        Err(format!("no cloud provider to {} (deployer was built without the `aws` feature)", action.describe()))
    }
}
