//! `deployer-plan`: the pure planning core.
//!
//! [`compile`] turns a validated configuration, a command, the resolved hosts, the
//! pinned revision and the loaded template sources into a [`Plan`]: phases
//! separated by fleet-wide barriers, each with the typed steps every host runs and
//! the exact script of each step. What `deployer plan` prints is what the executor
//! runs.
//!
//! Architecture invariants:
//! - no I/O, no clock, no network: the caller passes the time, the revision and
//!   the file contents in ([`PlanInput`]);
//! - every value reaches a script through [`shell::quote`];
//! - a plan never holds a secret value: secrets are slots in a [`Script`], filled
//!   by the executor when it writes to a host's standard input.

mod cloud;
mod compile;
mod error;
mod input;
mod layout;
mod model;
pub mod protocol;
pub mod resume;
mod script;
mod scripts;
pub mod shell;
mod steps;
mod templates;
mod text;

pub use cloud::{Capacity, CloudAction, CloudStep, DataVolume, LaunchSpec, ScalingProcess, made};
pub use compile::{check_release_id, compile};
pub use error::{PlanError, TemplateProblem};
pub use input::{CommandSpec, DeployMark, GroupMember, GroupSnapshot, Invocation, PlanInput, Sources, TemplateVersion};
pub use model::{
    Concurrency, Effect, FollowUp, HostWork, Phase, Plan, PlanHost, Revision, Scope, Shipping, Step, StepKind, Traffic,
    Upload, WaveGate, When,
};
pub use script::{Part, Script};
pub use steps::{ARCHIVE_PAYLOAD, LOCK_HELD_STATUS};
pub use text::hosts as count_hosts;
