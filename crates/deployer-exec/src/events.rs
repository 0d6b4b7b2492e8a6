//! What the executor reports while it runs. The binary turns events into progress
//! bars, plain lines, JSON lines and per-host log files; the executor never prints.

use deployer_plan::protocol::captured::Captured;
use serde::Serialize;

use crate::outcome::RunStatus;
use crate::transport::Stream;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Connecting {
        hosts: usize,
    },
    HostConnected {
        host: String,
    },
    HostUnreachable {
        host: String,
        error: String,
        skipped: bool,
    },
    /// The host dropped `count` handshakes during the banner exchange (sshd's
    /// `MaxStartups` at work) before one succeeded or the connect gave up.
    HandshakesDropped {
        host: String,
        count: u32,
    },
    /// Every host was tried before the first phase.
    Connected {
        hosts: usize,
        unreachable: usize,
        dropped_handshakes: u32,
    },
    PhaseStarted {
        phase: String,
        number: usize,
        of: usize,
        hosts: usize,
    },
    StepStarted {
        host: String,
        phase: String,
        step: usize,
        title: String,
    },
    StepFinished {
        host: String,
        phase: String,
        step: usize,
        title: String,
        status: i32,
        duration_ms: u64,
    },
    Output {
        host: String,
        stream: Stream,
        line: String,
    },
    HostFailed {
        host: String,
        phase: String,
        error: String,
    },
    /// The host finished its work in the phase (successfully or not).
    HostDone {
        host: String,
        phase: String,
        ok: bool,
        duration_ms: u64,
    },
    PhaseFinished {
        phase: String,
        failed: usize,
        duration_ms: u64,
    },
    /// A wave finished; the rollout waits `seconds` before the gate.
    Baking {
        phase: String,
        wave: usize,
        seconds: u32,
    },
    /// The gate after wave `wave` ran: `error` says why it failed.
    GateFinished {
        phase: String,
        wave: usize,
        error: Option<String>,
        duration_ms: u64,
    },
    /// A cloud step of a controller phase (or of its undo) ended: `note` says what
    /// changed, `error` why it failed.
    CloudStep {
        phase: String,
        title: String,
        note: Option<String>,
        error: Option<String>,
        duration_ms: u64,
    },
    /// A launch slot became a running server.
    Launched {
        host: String,
        id: String,
        address: String,
    },
    Captured {
        name: Captured,
        value: String,
    },
    /// Hosts reported different values for a value they need not agree on (whether
    /// migrations ran since the rollback target): value → hosts.
    HostsDiffer {
        name: Captured,
        values: std::collections::BTreeMap<String, Vec<String>>,
    },
    /// A batch (or a wave, `wave: true`) of a phase that runs in groups
    /// (`deploy_serial`) starts.
    BatchStarted {
        phase: String,
        number: usize,
        of: usize,
        hosts: Vec<String>,
        wave: bool,
    },
    UndoStarted {
        phase: String,
        hosts: usize,
    },
    Interrupted,
    Finished {
        status: RunStatus,
        duration_ms: u64,
    },
}

/// Receives events; implementations use interior mutability.
pub trait Reporter: Sync {
    fn report(&self, event: Event);
}

/// Drops every event (tests, benchmarks).
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: Event) {}
}
