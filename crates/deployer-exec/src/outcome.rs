//! How a run ended, per host and overall.

use std::collections::BTreeMap;

use deployer_plan::protocol::captured::Captured;
use serde::Serialize;

/// The overall result; each has its own process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Success,
    /// Failed before anything switched; undo left the fleet as it was.
    Failed,
    /// Failed after some hosts switched; every switched host was switched back.
    RolledBack,
    /// Hosts may be on different releases (warn-only, or an undo that failed).
    Partial,
    /// Another run holds the environment's lock; nothing changed.
    LockHeld,
    /// Interrupted (Ctrl-C); what ran was undone as far as possible.
    Interrupted,
}

impl RunStatus {
    /// The status as one word (`DEPLOYER_OUTCOME`, the audit log).
    pub fn word(self) -> &'static str {
        match self {
            Self::Success => "succeeded",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
            Self::Partial => "partial",
            Self::LockHeld => "locked",
            Self::Interrupted => "interrupted",
        }
    }
}

/// What happened to one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub roles: Vec<String>,
    pub result: HostResult,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum HostResult {
    Ok,
    Failed {
        phase: String,
        error: String,
    },
    Unreachable {
        error: String,
    },
    /// Left out (`--skip-bad-hosts`) or never reached because the run stopped first.
    Skipped,
    /// The run stopped (a failure elsewhere, or a stop signal) and what this host
    /// ran was undone.
    Undone,
    /// The run stopped before anything ran on this host.
    NothingRan,
}

/// One failure, with the last lines the host printed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub host: String,
    pub phase: String,
    pub step: Option<String>,
    pub error: String,
    pub output_tail: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: RunStatus,
    pub hosts: Vec<HostReport>,
    pub failures: Vec<Failure>,
    pub undo_failures: Vec<Failure>,
    /// Values derived from the hosts' reports, e.g. the rollback target.
    pub captured: BTreeMap<Captured, String>,
    /// Hosts left on the new release when the run did not switch them back
    /// (`--on-failure=halt`, `--warn-only`).
    pub switched: Vec<String>,
    /// Hosts that may still hold this run's environment lock: they stopped
    /// answering after taking it. Released with `lock release --id <deploy id>`.
    pub locks_left: Vec<String>,
    /// Steps that ran and that nothing undoes (migrations), as `host: step`, when
    /// the run did not finish: the database may be ahead of the live release.
    pub irreversible: Vec<String>,
    /// A reason the run stopped before contacting hosts, if any.
    pub refused: Option<String>,
    /// Failures of follow-ups (`after_deploy`, `on_failure`, `on_rollback` hooks),
    /// which ran after the status was fixed and never change it.
    pub follow_up_failures: Vec<Failure>,
    /// Connections started, reconnects after `max_connections` closed one
    /// included (one that then failed counts too).
    pub connections_opened: usize,
    /// Handshakes the hosts dropped during the banner exchange (sshd's
    /// `MaxStartups`) that were tried again.
    pub dropped_handshakes: u32,
    /// Servers the run launched, by plan host name, whether or not its undo
    /// terminated them again.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub launched: BTreeMap<String, crate::cloud::LaunchedInstance>,
    pub duration_ms: u64,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Success
    }
}
