//! Controller phases: cloud steps run in order on this machine through the
//! [`Cloud`], and the failures they record.

use std::time::{Duration, Instant};

use deployer_plan::{CloudAction, CloudStep, Phase};
use futures::stream::{self, StreamExt};

use super::state::RunState;
use super::{Executor, RunContext, elapsed_ms, gate};
use crate::cloud::{Cloud, CloudDone};
use crate::events::Event;
use crate::outcome::{Failure, Outcome, RunStatus};
use crate::transport::Transport;

/// How failures of cloud steps and gates name where they happened.
const CONTROLLER: &str = "(this machine)";

/// Between two tries to reach a server that was just launched: its sshd starts
/// some seconds after the instance runs.
const SSH_RETRY_PAUSE: Duration = Duration::from_secs(2);

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// Runs a controller phase's cloud steps in order; the first failure fails it.
    pub(super) async fn run_cloud_forward(
        &self,
        context: &RunContext,
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
        let failed = match self.run_cloud_steps(context, &phase.name, &phase.cloud, false, (after, outcome)).await {
            Ok(()) => {
                for &host in &phase.retires {
                    state.locks.retire(host);
                }
                false
            }
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
    /// follow-up runs after, which local commands get as `DEPLOYER_OUTCOME`;
    /// `outcome` records the servers launched.
    pub(super) async fn run_cloud_steps(
        &self,
        context: &RunContext,
        phase: &str,
        steps: &[CloudStep],
        undo: bool,
        (after, outcome): (Option<RunStatus>, &mut Outcome),
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
                CloudAction::WaitForSsh { hosts, timeout } => self.wait_for_ssh(context, hosts, *timeout).await,
                action => {
                    let state = context.cloud.lock().expect("not poisoned").clone();
                    match self.cloud.run(action, &state).await {
                        Ok(done) => self.bind(context, action, done, outcome),
                        Err(error) => Err(error),
                    }
                }
            };
            self.reporter.report(Event::CloudStep {
                phase: phase.to_owned(),
                title: step.title.clone(),
                note: result.as_ref().ok().cloned(),
                error: result.as_ref().err().cloned(),
                duration_ms: elapsed_ms(started),
            });
            if let Err(error) = result {
                // The failure returned is the first that matters most: one that
                // leaves a server changed beats a cleanup's.
                let worse = first_error.as_ref().is_none_or(|(_, _, cleanup)| *cleanup && !step.action.is_cleanup());
                if worse {
                    first_error = Some((step.title.clone(), error, step.action.is_cleanup()));
                }
                if !undo {
                    break;
                }
            }
        }
        first_error.map_or(Ok(()), |(title, error, _)| Err((title, error)))
    }
}

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// Binds the instances a launch returned to its slots, in order.
    fn bind(
        &self,
        context: &RunContext,
        action: &CloudAction,
        done: CloudDone,
        outcome: &mut Outcome,
    ) -> Result<String, String> {
        let mut state = context.cloud.lock().expect("not poisoned");
        state.made.extend(done.made);
        let Some(hosts) = action.binds() else { return Ok(done.note) };
        for (&host, instance) in hosts.iter().zip(&done.launched) {
            let name = self.plan.hosts[host].name.clone();
            self.reporter.report(Event::Launched {
                host: name.clone(),
                id: instance.id.clone(),
                address: instance.address.clone(),
            });
            outcome.launched.insert(name, instance.clone());
            state.launched.insert(host, instance.clone());
        }
        if done.launched.len() == hosts.len() {
            Ok(done.note)
        } else {
            Err(format!("asked for {} server(s), the cloud answered with {}", hosts.len(), done.launched.len()))
        }
    }

    /// Connects each of `hosts` (servers just launched), trying again until each
    /// accepts ssh or `timeout` seconds passed. The connections stay open for
    /// the phases that follow.
    async fn wait_for_ssh(&self, context: &RunContext, hosts: &[usize], timeout: u32) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(timeout));
        let results: Vec<Result<(), String>> = stream::iter(hosts.iter().copied())
            .map(|index| async move {
                loop {
                    let result = self.open(context, index).await;
                    context.connections.release(index);
                    let name = self.plan.hosts[index].name.clone();
                    match result {
                        Ok(()) => {
                            self.reporter.report(Event::HostConnected { host: name });
                            return Ok(());
                        }
                        Err(error) if tokio::time::Instant::now() >= deadline || self.cancel.is_cancelled() => {
                            return Err(format!("{name}: {error}"));
                        }
                        Err(_) => tokio::time::sleep(SSH_RETRY_PAUSE).await,
                    }
                }
            })
            .buffer_unordered(super::connections::MAX_HANDSHAKES)
            .collect()
            .await;
        let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            Ok(format!("{} server(s) accept ssh", hosts.len()))
        } else {
            Err(format!("no ssh within {timeout}s: {}", errors.join("; ")))
        }
    }
}

impl Failure {
    /// A failure on the machine running deployer (a cloud step, a gate).
    pub(super) fn on_controller(phase: &str, step: String, error: String) -> Self {
        Self { host: CONTROLLER.to_owned(), phase: phase.to_owned(), step: Some(step), error, output_tail: Vec::new() }
    }
}
