//! deployer's AWS provider, the only crate that knows AWS: a client built from
//! the configuration's `aws:` settings and the SDK's standard credential chain,
//! EC2 discovery by `FabulAWS`'s tags, and the executor's [`Cloud`](deployer_exec::Cloud)
//! for Auto Scaling actions.
//!
//! Nothing here prints, and no credential ever leaves the SDK: errors carry the
//! service's message, never a key.

mod autoscaling;
mod client;
mod cloud;
mod describe;
mod discovery;
mod error;
mod group;
mod images;
mod launch;
mod refresh;
mod rollout;
mod service;
#[cfg(test)]
mod stub;
mod targets;

pub use client::Aws;
pub use describe::{Description, GroupInfo, GroupInstance, InstanceInfo};
pub use discovery::{Instance, TaggedFleet};
pub use error::AwsError;
