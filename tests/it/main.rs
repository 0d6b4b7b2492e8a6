//! deployer's integration tests, in one binary (one build, one link): each module
//! is an area, and `support` holds the one fleet helper, the one `git` helper and
//! the invariant checker every fault scenario ends with.
//!
//! Tests that need a real sshd fleet (root, OpenSSH) print `SKIPPED` and pass on a
//! machine without one, except under `CI=true`, where they fail.

mod support;

#[cfg(feature = "aws")]
mod aws;
mod check;
mod completion;
mod connections;
mod demo;
mod django;
mod faults;
mod fetch;
mod fleet;
mod history;
mod hooks;
mod hostile;
mod hosts;
mod limits;
mod network;
mod notify;
mod plan;
mod releases;
mod resume;
mod revert;
mod rollout;
mod run;
mod secrets;
mod signals;
mod tasks;
