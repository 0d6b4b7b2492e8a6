//! Controller phases: cloud steps run in order on this machine through the
//! [`Cloud`], and the failures they record.

use std::time::Instant;

use deployer_plan::{CloudAction, CloudStep, Phase};

use super::state::RunState;
use super::{Executor, elapsed_ms, gate};
use crate::cloud::Cloud;
use crate::events::Event;
use crate::outcome::{Failure, Outcome, RunStatus};
use crate::transport::Transport;

/// How failures of cloud steps and gates name where they happened.
const CONTROLLER: &str = "(this machine)";

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// Runs a controller phase's cloud steps in order; the first failure fails it.
    pub(super) async fn run_cloud_forward(
        &self,
        index: usize,
        phase: &Phase,
        state: &mut RunState,
        outcome: &mut Outcome,
        after: Option<RunStatus>,
    ) -> bool {
        let started = Instant::now();
        self.reporter.report(Event::PhaseStarted {
            phase: phase.name.clone(),
            number: index + 1,
            of: self.plan.phases.len(),
            hosts: 0,
        });
        state.attempted.push(Vec::new());
        state.cloud_started.push(index);
        let failed = match self.run_cloud_steps(&phase.name, &phase.cloud, false, after).await {
            Ok(()) => false,
            Err((step, error)) => {
                outcome.failures.push(Failure::on_controller(&phase.name, step, error));
                true
            }
        };
        self.reporter.report(Event::PhaseFinished {
            phase: phase.name.clone(),
            failed: usize::from(failed),
            duration_ms: elapsed_ms(started),
        });
        failed
    }

    /// Runs cloud steps in order. Forward, the first failure stops them; in undo
    /// every step runs and the first failure is returned. `after`: the outcome a
    /// follow-up runs after, which local commands get as `DEPLOYER_OUTCOME`.
    pub(super) async fn run_cloud_steps(
        &self,
        phase: &str,
        steps: &[CloudStep],
        undo: bool,
        after: Option<RunStatus>,
    ) -> Result<(), (String, String)> {
        let mut first_error = None;
        for step in steps {
            if !undo && self.cancel.is_cancelled() {
                return Err((step.title.clone(), "interrupted before it started".to_owned()));
            }
            let started = Instant::now();
            let result = match &step.action {
                CloudAction::LocalCommand { command, timeout } => {
                    let mut variables = gate::deploy_facts(self.plan);
                    variables.push(("DEPLOYER_HOOK", phase.to_owned()));
                    if let Some(status) = after {
                        variables.push(("DEPLOYER_OUTCOME", status.word().to_owned()));
                    }
                    let directory = self.options.controller_directory.as_deref();
                    gate::run_local("the hook", command, *timeout, &variables, directory, &self.cancel)
                        .await
                        .map(|()| "done".to_owned())
                }
                action => self.cloud.run(action).await,
            };
            self.reporter.report(Event::CloudStep {
                phase: phase.to_owned(),
                title: step.title.clone(),
                note: result.as_ref().ok().cloned(),
                error: result.as_ref().err().cloned(),
                duration_ms: elapsed_ms(started),
            });
            if let Err(error) = result {
                first_error.get_or_insert((step.title.clone(), error));
                if !undo {
                    break;
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Failure {
    /// A failure on the machine running deployer (a cloud step, a gate).
    pub(super) fn on_controller(phase: &str, step: String, error: String) -> Self {
        Self { host: CONTROLLER.to_owned(), phase: phase.to_owned(), step: Some(step), error, output_tail: Vec::new() }
    }
}
