//! What a plan is: phases separated by fleet-wide barriers, each with the exact
//! steps every host will run.

use serde::Serialize;

use std::collections::BTreeSet;

use crate::cloud::CloudStep;
use crate::protocol::captured::Derivation;
use crate::script::Script;

/// A compiled command, ready to print or to run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// `deploy_full`, `rollback`, ...
    pub command: String,
    pub project: String,
    pub deployment: String,
    pub environment: String,
    /// Identifies this run in locks and history.
    pub deploy_id: String,
    /// The one commit every host gets (deploys only).
    pub revision: Option<Revision>,
    /// The one release id every host gets (deploys only).
    pub release_id: Option<String>,
    /// The environment's directory on every host.
    pub deploy_root: String,
    /// The question asked before running, for production environments.
    pub confirmation: Option<String>,
    pub hosts: Vec<PlanHost>,
    /// What the deploy ships beyond the last release shipped from this machine,
    /// when the caller could tell (deploys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Shipping>,
    /// Run in order; a phase starts only when the previous one ended on every host.
    pub phases: Vec<Phase>,
    /// Run after the outcome is fixed (and after undo), those whose `when` matches
    /// it, in order: `after_deploy`, `on_failure`, `on_rollback` hooks. Their
    /// failures are reported; they never change the outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<FollowUp>,
}

/// A phase that runs after the run, when its outcome matches.
#[derive(Debug, Clone, Serialize)]
pub struct FollowUp {
    pub when: When,
    pub phase: Phase,
}

/// Which outcomes a follow-up runs after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// The deploy succeeded.
    Succeeded,
    /// The deploy failed after contacting hosts: nothing switched, switched back,
    /// or left partial.
    Failed,
    /// The deploy failed after switching, and every switched host went back.
    RolledBack,
}

impl When {
    /// For people: `if it succeeded`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Succeeded => "if it succeeded",
            Self::Failed => "if it failed",
            Self::RolledBack => "if it failed after switching and switched back",
        }
    }

    /// What `DEPLOYER_OUTCOME` says in a follow-up's host steps.
    pub fn outcome_word(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
        }
    }
}

/// The commits a deploy ships: from the commit last shipped to the environment
/// (from this machine) to the new one. Gathered by the caller from a local
/// checkout; values are printable single lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shipping {
    pub since_commit: String,
    /// The release that carried `since_commit`, when known.
    pub since_release: Option<String>,
    pub commits: usize,
    /// Subjects, newest first (at most 20).
    pub subjects: Vec<String>,
    /// Changed paths that look like migrations (`*/migrations/*`, `db/migrate/*`; at most 20).
    pub migrations_changed: Vec<String>,
}

/// The commit a deploy ships, resolved once on the machine running deployer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// The branch it came from, when it came from one.
    pub branch: Option<String>,
    /// The full commit id.
    pub commit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanHost {
    /// The destination as ssh gets it (`user@host:port`).
    pub name: String,
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub roles: Vec<String>,
    pub connection: deployer_config::Connection,
    /// The bastion the host's role, its environment or `ssh.gateway` names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<deployer_config::HostString>,
    /// A server the run launches: `host` is a placeholder until its instance runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch: Option<deployer_config::LaunchSlot>,
}

/// A group of steps that runs on some hosts, followed by a barrier.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// A short name (`prepare`, `switch`, ...).
    pub name: String,
    pub description: String,
    pub scope: Scope,
    pub concurrency: Concurrency,
    /// Per host (indices into [`Plan::hosts`]), the steps it runs, in order.
    pub work: Vec<HostWork>,
    /// What undoes this phase on a host where it started, if it or a later phase fails.
    pub undo: Vec<HostWork>,
    /// Values derived from every host's state report (the rollback target), which
    /// later steps use; the hosts must agree on them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derives: Option<Derivation>,
    /// For [`Scope::Controller`] phases: the cloud steps, run in order on the
    /// machine running deployer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cloud: Vec<CloudStep>,
    /// What undoes this phase's cloud steps if it or a later phase fails, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cloud_undo: Vec<CloudStep>,
    /// Hosts whose servers this phase's cloud steps terminate: once it
    /// succeeds they are gone, and this run's lock went with them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retires: Vec<usize>,
    /// Hosts that serve behind load balancer target groups: the executor takes
    /// each out before its work here and puts it back after (also after its undo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// For [`Concurrency::Waves`]: what happens after each wave but the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub between_waves: Option<WaveGate>,
    /// The first host leads: no other host starts until its lock step succeeded.
    /// Two runs started at the same moment both try that host first, so exactly
    /// one wins and the other stops having changed nothing anywhere.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub leads: bool,
    /// While compiling: this phase needs no fleet-wide barrier before it, so each
    /// host may run it right after its work of the previous phase, in the same
    /// script (see `compile::fuse`). Never set in a compiled plan.
    #[serde(skip)]
    pub joins_previous: bool,
}

/// Load balancer target groups some hosts of a phase serve behind (`FabulAWS`'s
/// `deploy_serial_without_autoscaling`): each such host leaves them, and its
/// connections drain, before its work; it rejoins them, and is healthy there,
/// after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Names or ARNs.
    pub target_groups: Vec<String>,
    /// Plan hosts that serve behind them.
    pub hosts: Vec<usize>,
    /// Seconds a host's connections may take to drain.
    pub drain_timeout: u32,
    /// Seconds a host may take to be healthy again.
    pub healthy_timeout: u32,
}

impl Traffic {
    /// The step that takes the server at `address` out of service.
    pub fn leave(&self, address: &str) -> crate::CloudAction {
        crate::CloudAction::LeaveTargetGroups {
            address: address.to_owned(),
            target_groups: self.target_groups.clone(),
            timeout: self.drain_timeout,
        }
    }

    /// The step that puts the server at `address` back in service.
    pub fn join(&self, address: &str) -> crate::CloudAction {
        crate::CloudAction::JoinTargetGroups {
            address: address.to_owned(),
            target_groups: self.target_groups.clone(),
            timeout: self.healthy_timeout,
        }
    }
}

/// Between two waves of a rollout: a wait (the bake), then a check on the machine
/// running deployer (the gate). A failing gate stops the rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaveGate {
    /// Seconds to wait after a wave finished.
    pub bake: u32,
    /// A shell command run on this machine, with the wave's facts in its
    /// environment; non-zero fails the rollout.
    pub command: Option<String>,
    /// Seconds the command may run.
    pub timeout: u32,
}

impl Plan {
    /// Every secret any step or undo step needs, by name.
    pub fn secret_names(&self) -> BTreeSet<&str> {
        self.steps().flat_map(|step| step.script.secret_names()).collect()
    }

    /// The payloads (data the controller makes for the run) the plan needs.
    /// The names of the uploads (see [`Upload`]) the plan sends.
    pub fn upload_names(&self) -> BTreeSet<&str> {
        self.steps().filter_map(|step| step.upload.as_ref()).map(|upload| upload.payload.as_str()).collect()
    }

    /// Whether the plan takes the environment lock.
    pub fn takes_lock(&self) -> bool {
        self.steps().any(|step| step.effect == Effect::TakesLock)
    }

    fn steps(&self) -> impl Iterator<Item = &Step> {
        self.phases.iter().flat_map(|phase| phase.work.iter().chain(&phase.undo)).flat_map(|work| &work.steps)
    }
}

impl Phase {
    /// A phase with this work, no undo, nothing derived and no cloud step.
    pub fn new(name: &str, description: &str, scope: Scope, concurrency: Concurrency, work: Vec<HostWork>) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            scope,
            concurrency,
            work,
            undo: Vec::new(),
            derives: None,
            cloud: Vec::new(),
            cloud_undo: Vec::new(),
            retires: Vec::new(),
            traffic: None,
            between_waves: None,
            leads: false,
            joins_previous: false,
        }
    }

    /// This phase, marked as needing no barrier before it.
    #[must_use]
    pub fn joining(mut self) -> Self {
        self.joins_previous = true;
        self
    }

    /// Whether the phase points `current` somewhere new on the hosts it runs on.
    pub fn switches_current(&self) -> bool {
        self.work.iter().flat_map(|work| &work.steps).any(|step| step.effect == Effect::SwitchesCurrent)
    }
}

/// Which hosts a phase runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Scope {
    /// Every targeted host.
    All,
    /// The targeted hosts that play `role`.
    Role { role: String },
    /// Exactly one host of `role` (run-once steps such as migrations).
    Once { role: String },
    /// No host: the machine running deployer, calling a cloud API ([`Phase::cloud`]).
    Controller,
}

/// How many hosts of a phase work at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Concurrency {
    /// Up to `size` hosts at once.
    Pool { size: u32 },
    /// `size` hosts at a time; each batch finishes every step before the next starts.
    Batches { size: u32 },
    /// Waves of these sizes, in order, each finished before the next starts (and
    /// [`Phase::between_waves`] between them).
    Waves { sizes: Vec<u32> },
}

/// The steps one host runs in one phase.
#[derive(Debug, Clone, Serialize)]
pub struct HostWork {
    pub host: usize,
    pub steps: Vec<Step>,
}

/// One step: a typed action and the exact script that performs it.
///
/// Scripts assume `set -eu`: the executor runs each in a subshell with it, so the
/// first failing command fails the step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub title: String,
    /// Seconds the step may run; enforced on the host too.
    pub timeout: u32,
    /// What the step does that the executor's failure policy depends on.
    #[serde(skip_serializing_if = "Effect::is_none")]
    pub effect: Effect,
    pub script: Script,
    /// Data the step asks the controller for while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<Upload>,
}

/// Bytes the controller makes for the run (the `push` strategy's archive) that
/// a step asks for while it runs, saying what it already has, and receives as
/// raw bytes on the phase's own session (`deployer_exec`'s upload module):
/// nothing to quote or encode, made once per distinct answer, not per host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    /// Names the bytes among the run's uploads.
    pub payload: String,
}

/// What a step changes that matters beyond its own success: the executor decides
/// undo, lock reporting and the run's status from these, never from step kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    #[default]
    None,
    /// Takes the environment lock; exits with `LOCK_HELD_STATUS` when another run
    /// holds it (and then has taken nothing).
    TakesLock,
    /// Releases the lock if this run holds it.
    ReleasesLock,
    /// Points `current` at the new release: after it, a failure means switching back.
    SwitchesCurrent,
    /// Puts `current` back (undo of a switch). If it fails, hosts may be on
    /// different releases: the run is partial, not rolled back.
    RestoresCurrent,
    /// Changes the database (migrations): nothing undoes it, so a stopped run
    /// must say that it ran.
    Irreversible,
}

impl Effect {
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    CheckConnection,
    CreateLayout,
    Setup,
    Lock,
    Unlock,
    PrepareRelease,
    Fetch,
    ReceiveArchive,
    DiscardArchive,
    VerifyPrepared,
    VerifyLive,
    LinkShared,
    RenderTemplate,
    Build,
    MarkComplete,
    RemoveRelease,
    MaintenanceOn,
    MaintenanceOff,
    Migrate,
    Switch,
    SwitchBack,
    Restart,
    HealthCheck,
    RecordHistory,
    Prune,
    UploadSecrets,
    ChooseRollbackTarget,
    ArmRevert,
    DisarmRevert,
    Drain,
    Undrain,
    Command,
    Hook,
    ReadStatus,
    ReleaseLock,
}
