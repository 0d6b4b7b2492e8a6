//! Which hosts may still hold this run's environment lock when it ends.
//!
//! A host that stops answering after its lock step cannot be unlocked; its lock
//! stays until a person releases it. The run must say so, with the run's id, so
//! nothing is left that the output does not describe.

use deployer_plan::{Effect, HostWork};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum LockState {
    #[default]
    NotTaken,
    Taken,
    Released,
}

/// One entry per plan host.
#[derive(Debug)]
pub(crate) struct LockLedger {
    hosts: Vec<LockState>,
}

/// What one host's work in a phase came to, as far as its lock is concerned.
pub(crate) struct LockResult {
    pub host: usize,
    pub started: bool,
    pub succeeded: bool,
    /// The effect of the step that failed; `None` means the host stopped answering.
    pub failed_effect: Option<Effect>,
    /// Another run holds the lock: this run never took it.
    pub held_by_another: bool,
}

impl LockLedger {
    pub(crate) fn new(hosts: usize) -> Self {
        Self { hosts: vec![LockState::NotTaken; hosts] }
    }

    /// Records a phase's results on the hosts that ran `work`.
    pub(crate) fn note(&mut self, work: &HostWork, result: &LockResult) {
        if !result.started {
            return;
        }
        let has = |effect: Effect| work.steps.iter().any(|step| step.effect == effect);
        let state = &mut self.hosts[result.host];
        if has(Effect::TakesLock) {
            // A lock step that failed on the host undid itself (held by another run,
            // or it could not be created); any other failure came after it, or the
            // host went silent mid-step and the lock may well exist.
            let lock_step_refused = !result.succeeded && result.failed_effect == Some(Effect::TakesLock);
            if !result.held_by_another && !lock_step_refused {
                *state = LockState::Taken;
            }
        }
        if has(Effect::ReleasesLock) && result.succeeded && *state == LockState::Taken {
            *state = LockState::Released;
        }
    }

    /// A host whose server is gone (terminated by the run): its lock went with it.
    pub(crate) fn retire(&mut self, host: usize) {
        if self.hosts[host] == LockState::Taken {
            self.hosts[host] = LockState::Released;
        }
    }

    /// Hosts whose lock this run took and could not release.
    pub(crate) fn left(&self) -> Vec<usize> {
        self.hosts.iter().enumerate().filter(|(_, state)| **state == LockState::Taken).map(|(host, _)| host).collect()
    }
}

#[cfg(test)]
mod tests {
    use deployer_plan::{Script, Step, StepKind};

    use super::*;

    fn work(effects: &[Effect]) -> HostWork {
        HostWork {
            host: 0,
            steps: effects
                .iter()
                .map(|effect| Step {
                    kind: StepKind::Command,
                    title: String::new(),
                    timeout: 1,
                    effect: *effect,
                    script: Script::new(),
                    upload: None,
                })
                .collect(),
        }
    }

    fn result(succeeded: bool, failed_effect: Option<Effect>) -> LockResult {
        LockResult { host: 0, started: true, succeeded, failed_effect, held_by_another: false }
    }

    #[test]
    fn a_lock_released_at_the_end_is_not_left() {
        let mut ledger = LockLedger::new(1);
        ledger.note(&work(&[Effect::TakesLock]), &result(true, None));
        assert_eq!(ledger.left(), [0]);
        ledger.note(&work(&[Effect::ReleasesLock]), &result(true, None));
        assert!(ledger.left().is_empty());
    }

    #[test]
    fn a_server_the_run_terminated_took_its_lock_with_it() {
        let mut ledger = LockLedger::new(2);
        ledger.note(&work(&[Effect::TakesLock]), &result(true, None));
        assert_eq!(ledger.left(), [0]);
        ledger.retire(0);
        ledger.retire(1);
        assert!(ledger.left().is_empty(), "a retired host whose lock was taken is not left locked");
    }

    #[test]
    fn a_host_silent_during_its_lock_step_may_hold_the_lock() {
        let mut ledger = LockLedger::new(1);
        ledger.note(&work(&[Effect::TakesLock]), &result(false, None));
        ledger.note(&work(&[Effect::ReleasesLock]), &result(false, None));
        assert_eq!(ledger.left(), [0]);
    }

    #[test]
    fn a_refused_or_foreign_lock_was_never_taken() {
        let mut ledger = LockLedger::new(1);
        ledger.note(&work(&[Effect::TakesLock]), &result(false, Some(Effect::TakesLock)));
        assert!(ledger.left().is_empty());
        let held = LockResult { held_by_another: true, ..result(false, Some(Effect::TakesLock)) };
        ledger.note(&work(&[Effect::TakesLock]), &held);
        assert!(ledger.left().is_empty());
    }

    #[test]
    fn work_that_never_started_changes_nothing() {
        let mut ledger = LockLedger::new(1);
        ledger.note(&work(&[Effect::TakesLock]), &LockResult { started: false, ..result(false, None) });
        assert!(ledger.left().is_empty());
    }
}
