//! The facts a run gathers as it goes, and the one function that turns them into
//! its status.

use crate::locks::LockLedger;
use crate::outcome::RunStatus;

/// What has happened so far in a run. The executor updates it after every phase
/// and reads nothing else when it decides what to undo and how the run ended.
#[derive(Debug)]
pub(super) struct RunState {
    /// Per plan host: left out before the first phase (unreachable, skipped).
    pub excluded: Vec<bool>,
    /// Per phase that ran, in order: the hosts on which its work started. Undo
    /// runs on exactly these hosts, newest phase first.
    pub attempted: Vec<Vec<usize>>,
    /// Controller phases whose cloud steps started: their cloud undo runs.
    pub cloud_started: Vec<usize>,
    /// Hosts on which a step that switches `current` succeeded.
    pub switched: Vec<usize>,
    /// The first phase that failed (a host failed, or the hosts' values did not
    /// agree).
    pub failed_at: Option<usize>,
    /// A lock step found the environment locked by another run.
    pub lock_held: bool,
    /// A stop was asked for (Ctrl-C, SIGTERM, SIGHUP): no new work started.
    pub interrupted: bool,
    /// Which hosts may hold this run's lock.
    pub locks: LockLedger,
    /// Steps that started and that nothing undoes (migrations), by host.
    pub irreversible: Vec<(usize, String)>,
}

impl RunState {
    pub fn new(hosts: usize) -> Self {
        Self {
            excluded: vec![false; hosts],
            attempted: Vec::new(),
            cloud_started: Vec::new(),
            switched: Vec::new(),
            failed_at: None,
            lock_held: false,
            interrupted: false,
            locks: LockLedger::new(hosts),
            irreversible: Vec::new(),
        }
    }

    /// Whether any phase that switches `current` started on some host.
    pub fn switch_started(&self, switches: impl Fn(usize) -> bool) -> bool {
        self.attempted.iter().enumerate().any(|(index, hosts)| !hosts.is_empty() && switches(index))
    }
}

/// The facts the status depends on, once the run has settled (undo done or
/// skipped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    pub lock_held: bool,
    pub interrupted: bool,
    pub failed: bool,
    pub warn_only: bool,
    /// A phase that switches `current` started on some host.
    pub switched: bool,
    /// `--on-failure=halt` left switched hosts where they were.
    pub halted: bool,
    /// Undo put every host back (no switch-back failed, no host went silent).
    pub undone_consistently: bool,
}

/// How the run ended. The first row that matches decides:
///
/// | lock held | interrupted | failed | warn-only | switched | halted | undone | status        |
/// |-----------|-------------|--------|-----------|----------|--------|--------|---------------|
/// | yes       |             |        |           |          |        |        | `LockHeld`    |
/// | no        | yes         |        |           |          |        |        | `Interrupted` |
/// | no        | no          | no     |           |          |        |        | `Success`     |
/// | no        | no          | yes    | yes       | yes      |        |        | `Partial`     |
/// | no        | no          | yes    | yes       | no       |        |        | `Failed`      |
/// | no        | no          | yes    | no        | no       |        |        | `Failed`      |
/// | no        | no          | yes    | no        | yes      | yes    |        | `Partial`     |
/// | no        | no          | yes    | no        | yes      | no     | yes    | `RolledBack`  |
/// | no        | no          | yes    | no        | yes      | no     | no     | `Partial`     |
///
/// A refused lock wins over everything: that run changed nothing. An interrupted
/// run says so even if its undo was clean, so scripts can tell a person stopped it.
pub(crate) fn run_status(facts: Settled) -> RunStatus {
    match facts {
        Settled { lock_held: true, .. } => RunStatus::LockHeld,
        Settled { interrupted: true, .. } => RunStatus::Interrupted,
        Settled { failed: false, .. } => RunStatus::Success,
        Settled { warn_only: true, switched: true, .. } => RunStatus::Partial,
        Settled { switched: false, .. } => RunStatus::Failed,
        Settled { halted: false, undone_consistently: true, .. } => RunStatus::RolledBack,
        Settled { .. } => RunStatus::Partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row of the table in `run_status`'s documentation, in order.
    #[test]
    fn every_row_of_the_truth_table() {
        let failed = Settled { failed: true, ..Settled::default() };
        let rows = [
            (Settled { lock_held: true, interrupted: true, failed: true, ..Settled::default() }, RunStatus::LockHeld),
            (Settled { interrupted: true, undone_consistently: true, ..failed }, RunStatus::Interrupted),
            (Settled { switched: true, ..Settled::default() }, RunStatus::Success),
            (Settled { warn_only: true, switched: true, ..failed }, RunStatus::Partial),
            (Settled { warn_only: true, ..failed }, RunStatus::Failed),
            (Settled { undone_consistently: true, ..failed }, RunStatus::Failed),
            (Settled { switched: true, halted: true, undone_consistently: true, ..failed }, RunStatus::Partial),
            (Settled { switched: true, undone_consistently: true, ..failed }, RunStatus::RolledBack),
            (Settled { switched: true, ..failed }, RunStatus::Partial),
        ];
        for (facts, status) in rows {
            assert_eq!(run_status(facts), status, "{facts:?}");
        }
    }

    #[test]
    fn a_switch_counts_only_where_it_started() {
        let mut state = RunState::new(2);
        state.attempted = vec![vec![0, 1], vec![]];
        assert!(!state.switch_started(|phase| phase == 1));
        state.attempted[1].push(1);
        assert!(state.switch_started(|phase| phase == 1));
    }
}
