//! Runs a plan: connect every host, run the phases in order with a barrier after
//! each, and on failure undo what ran, newest phase first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use deployer_plan::{Concurrency, HostWork, LOCK_HELD_STATUS, Phase, Plan, Scope, StepKind};
use futures::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::events::{Event, Reporter};
use crate::locks::{LockLedger, LockResult};
use crate::outcome::{Failure, HostReport, HostResult, Outcome, RunStatus};
use crate::transport::{OutputSink, Stream, Transport};
use crate::wire::{KILL_GRACE_SECONDS, Marker, TIMED_OUT_STATUS, Wire};

/// Lines of a host's output kept for error messages.
const TAIL_LINES: usize = 20;

/// Seconds beyond the steps' own limits before a silent host is given up on.
const ANSWER_GRACE_SECONDS: u64 = 10;

#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Keep going after a failure (the exit status still reports it).
    pub warn_only: bool,
    /// Leave unreachable hosts out instead of stopping before the first phase.
    pub skip_bad_hosts: bool,
    /// Connections being set up at once (sshd's `MaxStartups` drops bursts).
    pub connect_concurrency: usize,
    /// Overrides every phase's pool size (`--pool-size`).
    pub pool_size: Option<u32>,
    /// `--on-failure=halt`: after a failure at or after a switch, leave switched
    /// hosts as they are (the outcome names them) instead of switching them back.
    pub halt_on_failure: bool,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            warn_only: false,
            skip_bad_hosts: false,
            connect_concurrency: 8,
            pool_size: None,
            halt_on_failure: false,
        }
    }
}

pub struct Executor<'a, T: Transport> {
    pub plan: &'a Plan,
    pub transport: &'a T,
    pub reporter: &'a dyn Reporter,
    /// Secret values by name, from the local secrets file.
    pub secrets: &'a BTreeMap<String, String>,
    pub options: ExecOptions,
    /// Cancelled on Ctrl-C: no new work starts, running work finishes, then undo.
    pub cancel: CancellationToken,
    pub wire: Wire,
}

/// What one host's work in one phase came to.
struct WorkResult {
    host: usize,
    started: bool,
    error: Option<(Option<String>, String)>,
    /// The kind of the step that failed; `None` with an error means the host
    /// stopped answering (its state is unknown).
    failed_kind: Option<StepKind>,
    lock_held: bool,
    captures: BTreeMap<String, String>,
    tail: Vec<String>,
    duration_ms: u64,
}

impl<T: Transport> Executor<'_, T> {
    /// Checks what can be checked without a host: every secret the plan uses is
    /// known and safe to embed.
    pub fn check(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for phase in &self.plan.phases {
            for work in phase.work.iter().chain(&phase.undo) {
                for step in &work.steps {
                    names.extend(step.script.secret_names());
                }
            }
        }
        for name in names {
            let value = self.secrets.get(name).ok_or_else(|| format!("secret `{name}` is not in the secrets file"))?;
            self.wire.check_content(value).map_err(|error| format!("secret `{name}`: {error}"))?;
        }
        Ok(())
    }

    pub async fn run(&self) -> Outcome {
        let started = Instant::now();
        let hosts = self.plan.hosts.len();
        let mut outcome = Outcome {
            status: RunStatus::Success,
            hosts: self
                .plan
                .hosts
                .iter()
                .map(|host| HostReport {
                    host: host.name.clone(),
                    roles: host.roles.clone(),
                    result: HostResult::Ok,
                    duration_ms: 0,
                })
                .collect(),
            failures: Vec::new(),
            undo_failures: Vec::new(),
            captured: BTreeMap::new(),
            switched: Vec::new(),
            locks_left: Vec::new(),
            refused: None,
            duration_ms: 0,
        };
        if let Err(reason) = self.check() {
            outcome.status = RunStatus::Failed;
            outcome.refused = Some(reason);
            return self.finish(outcome, started).await;
        }

        let mut excluded = vec![false; hosts];
        if !self.connect_all(&mut outcome, &mut excluded).await {
            outcome.status = RunStatus::Failed;
            return self.finish(outcome, started).await;
        }

        let mut attempted: Vec<Vec<usize>> = Vec::new();
        // Hosts whose switch step succeeded, per switching phase.
        let mut switch_results: Vec<usize> = Vec::new();
        let mut failed_at: Option<usize> = None;
        let mut lock_held = false;
        let mut locks = LockLedger::new(hosts);
        for (index, phase) in self.plan.phases.iter().enumerate() {
            if self.cancel.is_cancelled() {
                break;
            }
            let phase_started = Instant::now();
            let items: Vec<&HostWork> = phase.work.iter().filter(|work| !excluded[work.host]).collect();
            self.reporter.report(Event::PhaseStarted {
                phase: phase.name.clone(),
                number: index + 1,
                of: self.plan.phases.len(),
                hosts: items.len(),
            });
            let mut results = Vec::new();
            if items.len() < phase.work.len() && matches!(phase.scope, Scope::Once { .. }) {
                let host = &self.plan.hosts[phase.work[0].host].name;
                outcome.failures.push(Failure {
                    host: host.clone(),
                    phase: phase.name.clone(),
                    step: None,
                    error: "the host chosen to run this phase was left out as unreachable".to_owned(),
                    output_tail: Vec::new(),
                });
            } else {
                results = self.run_phase(phase, &items, &outcome.captured, false).await;
            }
            note_locks(&mut locks, &items, &results);
            let mut phase_failed = !outcome.failures.is_empty() && results.is_empty();
            attempted.push(results.iter().filter(|result| result.started).map(|result| result.host).collect());
            if phase_switches(phase) {
                switch_results.extend(
                    results.iter().filter(|result| result.started && result.error.is_none()).map(|result| result.host),
                );
            }
            for result in &results {
                outcome.hosts[result.host].duration_ms += result.duration_ms;
                lock_held |= result.lock_held;
                if let Some((step, error)) = &result.error {
                    phase_failed = true;
                    self.record_failure(&mut outcome, phase, result, step.clone(), error.clone());
                }
            }
            if !phase_failed
                && !phase.captures.is_empty()
                && let Err(error) = self.agree_on_captures(phase, &results, &mut outcome.captured)
            {
                phase_failed = true;
                outcome.failures.push(Failure {
                    host: "(all hosts)".to_owned(),
                    phase: phase.name.clone(),
                    step: None,
                    error,
                    output_tail: Vec::new(),
                });
            }
            let failed_hosts = results.iter().filter(|result| result.error.is_some()).count();
            self.reporter.report(Event::PhaseFinished {
                phase: phase.name.clone(),
                failed: failed_hosts,
                duration_ms: elapsed_ms(phase_started),
            });
            if phase_failed && failed_at.is_none() {
                failed_at = Some(index);
            }
            if phase_failed && !self.options.warn_only {
                break;
            }
        }

        let interrupted = self.cancel.is_cancelled();
        if interrupted {
            self.reporter.report(Event::Interrupted);
        }
        let stopped_early = (failed_at.is_some() && !self.options.warn_only) || interrupted;
        let last_attempted = attempted.len();
        let switched = self.plan.phases[..last_attempted]
            .iter()
            .zip(&attempted)
            .any(|(phase, hosts)| !hosts.is_empty() && phase_switches(phase));
        let halted = stopped_early && switched && self.options.halt_on_failure && !interrupted;
        let mut undone_consistently = true;
        if halted {
            // Only the phases before the first switch are undone (the lock is released,
            // unfinished releases removed); switched hosts stay where they are.
            let first_switch = self.plan.phases.iter().position(phase_switches).unwrap_or(attempted.len());
            let mut before: Vec<Vec<usize>> = attempted.clone();
            for hosts in before.iter_mut().skip(first_switch) {
                hosts.clear();
            }
            outcome.switched = self.switched_hosts(&switch_results);
            self.undo(&before, &mut outcome, &mut locks).await;
            undone_consistently = false;
        } else if stopped_early {
            undone_consistently = self.undo(&attempted, &mut outcome, &mut locks).await;
        } else if self.options.warn_only && failed_at.is_some() {
            outcome.switched = self.switched_hosts(&switch_results);
        }
        outcome.locks_left = locks.left().into_iter().map(|host| self.plan.hosts[host].name.clone()).collect();
        outcome.status = if lock_held {
            RunStatus::LockHeld
        } else if interrupted {
            RunStatus::Interrupted
        } else if failed_at.is_none() {
            RunStatus::Success
        } else if self.options.warn_only {
            if switched { RunStatus::Partial } else { RunStatus::Failed }
        } else if !switched {
            RunStatus::Failed
        } else if halted {
            RunStatus::Partial
        } else if undone_consistently {
            RunStatus::RolledBack
        } else {
            RunStatus::Partial
        };
        self.finish(outcome, started).await
    }

    async fn finish(&self, mut outcome: Outcome, started: Instant) -> Outcome {
        self.transport.close().await;
        outcome.duration_ms = elapsed_ms(started);
        self.reporter.report(Event::Finished { status: outcome.status, duration_ms: outcome.duration_ms });
        outcome
    }

    /// Connects every host with a bounded number of handshakes at once. Returns
    /// false when an unreachable host must stop the run.
    async fn connect_all(&self, outcome: &mut Outcome, excluded: &mut [bool]) -> bool {
        self.reporter.report(Event::Connecting { hosts: self.plan.hosts.len() });
        let results: Vec<(usize, Result<(), String>)> = stream::iter(self.plan.hosts.iter().enumerate())
            .map(|(index, host)| async move {
                if self.cancel.is_cancelled() {
                    return (index, Err("interrupted".to_owned()));
                }
                (index, self.transport.connect(index, host).await.map_err(|error| error.to_string()))
            })
            .buffer_unordered(self.options.connect_concurrency.max(1))
            .collect()
            .await;
        let mut fatal = false;
        for (index, result) in results {
            let host = self.plan.hosts[index].name.clone();
            match result {
                Ok(()) => self.reporter.report(Event::HostConnected { host }),
                Err(error) => {
                    let skipped = self.options.skip_bad_hosts;
                    self.reporter.report(Event::HostUnreachable { host: host.clone(), error: error.clone(), skipped });
                    outcome.hosts[index].result = HostResult::Unreachable { error: error.clone() };
                    excluded[index] = true;
                    if !skipped {
                        fatal = true;
                        outcome.failures.push(Failure {
                            host,
                            phase: "connect".to_owned(),
                            step: None,
                            error,
                            output_tail: Vec::new(),
                        });
                    }
                }
            }
        }
        if excluded.iter().all(|&left_out| left_out) {
            fatal = true;
        }
        !fatal && !self.cancel.is_cancelled()
    }

    async fn run_phase(
        &self,
        phase: &Phase,
        items: &[&HostWork],
        captured: &BTreeMap<String, String>,
        undo: bool,
    ) -> Vec<WorkResult> {
        let stop = AtomicBool::new(false);
        let pool = match phase.concurrency {
            Concurrency::Pool { size } => self.options.pool_size.unwrap_or(size),
            Concurrency::Batches { size } => size,
        }
        .max(1) as usize;
        let batch = match phase.concurrency {
            Concurrency::Batches { size } if !undo => size.max(1) as usize,
            _ => items.len().max(1),
        };
        let mut results = Vec::with_capacity(items.len());
        for chunk in items.chunks(batch) {
            let chunk_results: Vec<WorkResult> = stream::iter(chunk.iter().copied())
                .map(|work| {
                    let stop = &stop;
                    async move {
                        let halted = !undo
                            && (self.cancel.is_cancelled() || (stop.load(Ordering::SeqCst) && !self.options.warn_only));
                        if halted {
                            return WorkResult::not_started(work.host);
                        }
                        let result = self.run_work(phase, work, captured).await;
                        if result.error.is_some() {
                            stop.store(true, Ordering::SeqCst);
                        }
                        result
                    }
                })
                .buffer_unordered(pool)
                .collect()
                .await;
            results.extend(chunk_results);
            if !undo && stop.load(Ordering::SeqCst) && !self.options.warn_only {
                break;
            }
        }
        results.sort_by_key(|result| result.host);
        results
    }

    async fn run_work(&self, phase: &Phase, work: &HostWork, captured: &BTreeMap<String, String>) -> WorkResult {
        let started = Instant::now();
        let host = &self.plan.hosts[work.host];
        let mut scripts = Vec::with_capacity(work.steps.len());
        for step in &work.steps {
            let exposed = step.script.expose(
                |name| self.secrets.get(name).cloned().ok_or_else(|| format!("secret `{name}` is missing")),
                |name| captured.get(name).cloned().ok_or_else(|| format!("no host reported `{name}`")),
            );
            match exposed {
                Ok(script) => scripts.push(script),
                Err(error) => {
                    return WorkResult {
                        error: Some((Some(step.title.clone()), error)),
                        ..WorkResult::not_started(work.host)
                    };
                }
            }
        }
        let script = self.wire.phase_script(&work.steps, &scripts);
        let mut sink = HostSink {
            wire: &self.wire,
            reporter: self.reporter,
            host: &host.name,
            phase: &phase.name,
            work,
            step_started: vec![None; work.steps.len()],
            ended: vec![None; work.steps.len()],
            tail: VecDeque::new(),
            captures: BTreeMap::new(),
        };
        // The host enforces each step's limit itself; this deadline covers a host that
        // stops answering altogether (frozen, or its packets silently dropped).
        let deadline =
            work.steps.iter().map(|step| u64::from(step.timeout) + u64::from(KILL_GRACE_SECONDS)).sum::<u64>()
                + ANSWER_GRACE_SECONDS;
        let status = match tokio::time::timeout(
            std::time::Duration::from_secs(deadline),
            self.transport.run(work.host, host, script, &mut sink),
        )
        .await
        {
            Ok(status) => status,
            Err(_) => Err(crate::transport::TransportError::Lost(format!(
                "the host stopped answering (no reply within {deadline}s)"
            ))),
        };
        let mut result = WorkResult {
            host: work.host,
            started: true,
            error: None,
            failed_kind: None,
            lock_held: false,
            captures: std::mem::take(&mut sink.captures),
            tail: sink.tail.iter().cloned().collect(),
            duration_ms: elapsed_ms(started),
        };
        let failed_step = sink.ended.iter().position(|status| matches!(status, Some(code) if *code != 0));
        result.error = match (status, failed_step) {
            (Err(error), _) => {
                Some((sink.current_step().map(|index| work.steps[index].title.clone()), error.to_string()))
            }
            (Ok(_), Some(index)) => {
                let step = &work.steps[index];
                result.failed_kind = Some(step.kind);
                let code = sink.ended[index].unwrap_or_default();
                result.lock_held = step.kind == StepKind::Lock && code == LOCK_HELD_STATUS;
                let error = match code {
                    TIMED_OUT_STATUS => {
                        format!("`{}` ran out of time ({}s) and was stopped on the host", step.title, step.timeout)
                    }
                    _ if result.lock_held => "the environment is locked by another run".to_owned(),
                    code => format!("`{}` exited with status {code}", step.title),
                };
                Some((Some(step.title.clone()), error))
            }
            (Ok(0), None) if sink.ended.iter().all(Option::is_some) => None,
            (Ok(code), None) => {
                let during = sink
                    .current_step()
                    .map(|index| format!(" during `{}`", work.steps[index].title))
                    .unwrap_or_default();
                Some((
                    sink.current_step().map(|index| work.steps[index].title.clone()),
                    format!("the host's shell ended with status {code}{during}"),
                ))
            }
        };
        if let Some((_, error)) = &result.error {
            self.reporter.report(Event::HostFailed {
                host: host.name.clone(),
                phase: phase.name.clone(),
                error: error.clone(),
            });
        }
        self.reporter.report(Event::HostDone {
            host: host.name.clone(),
            phase: phase.name.clone(),
            ok: result.error.is_none(),
            duration_ms: result.duration_ms,
        });
        result
    }

    fn switched_hosts(&self, hosts: &[usize]) -> Vec<String> {
        let mut names: Vec<String> = hosts.iter().map(|&host| self.plan.hosts[host].name.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    fn record_failure(
        &self,
        outcome: &mut Outcome,
        phase: &Phase,
        result: &WorkResult,
        step: Option<String>,
        error: String,
    ) {
        let host = self.plan.hosts[result.host].name.clone();
        outcome.hosts[result.host].result = HostResult::Failed { phase: phase.name.clone(), error: error.clone() };
        outcome.failures.push(Failure {
            host,
            phase: phase.name.clone(),
            step,
            error,
            output_tail: result.tail.clone(),
        });
    }

    /// Every host that ran the phase must report the same value for each capture.
    fn agree_on_captures(
        &self,
        phase: &Phase,
        results: &[WorkResult],
        captured: &mut BTreeMap<String, String>,
    ) -> Result<(), String> {
        for name in &phase.captures {
            let mut values: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for result in results.iter().filter(|result| result.started) {
                let value = result.captures.get(name).map_or("(nothing)", String::as_str);
                values.entry(value).or_default().push(&self.plan.hosts[result.host].name);
            }
            match values.len() {
                1 => {
                    let value = values.keys().next().expect("one value").to_string();
                    self.reporter.report(Event::Captured { name: name.clone(), value: value.clone() });
                    captured.insert(name.clone(), value);
                }
                0 => return Err(format!("no host reported `{name}`")),
                _ => {
                    let listed: Vec<String> =
                        values.iter().map(|(value, hosts)| format!("{value} on {}", hosts.join(", "))).collect();
                    return Err(format!("hosts disagree on `{name}`: {}", listed.join("; ")));
                }
            }
        }
        Ok(())
    }

    /// Runs the undo of every phase that ran, newest first, on the hosts that ran it.
    /// Returns false when a host may not be back on its previous release (a switch
    /// back failed, or the host stopped answering).
    async fn undo(&self, attempted: &[Vec<usize>], outcome: &mut Outcome, locks: &mut LockLedger) -> bool {
        let mut consistent = true;
        for (index, hosts) in attempted.iter().enumerate().rev() {
            let phase = &self.plan.phases[index];
            let items: Vec<&HostWork> = phase.undo.iter().filter(|work| hosts.contains(&work.host)).collect();
            if items.is_empty() {
                continue;
            }
            self.reporter.report(Event::UndoStarted { phase: phase.name.clone(), hosts: items.len() });
            let undo_phase = Phase { name: format!("undo {}", phase.name), ..phase.clone() };
            let results = self.run_phase(&undo_phase, &items, &outcome.captured, true).await;
            note_locks(locks, &items, &results);
            for result in results {
                if result.error.is_some() && matches!(result.failed_kind, None | Some(StepKind::SwitchBack)) {
                    consistent = false;
                }
                if let Some((step, error)) = result.error {
                    outcome.undo_failures.push(Failure {
                        host: self.plan.hosts[result.host].name.clone(),
                        phase: undo_phase.name.clone(),
                        step,
                        error,
                        output_tail: result.tail,
                    });
                }
            }
        }
        consistent
    }
}

impl WorkResult {
    fn not_started(host: usize) -> Self {
        Self {
            host,
            started: false,
            error: None,
            failed_kind: None,
            lock_held: false,
            captures: BTreeMap::new(),
            tail: Vec::new(),
            duration_ms: 0,
        }
    }
}

fn note_locks(locks: &mut LockLedger, items: &[&HostWork], results: &[WorkResult]) {
    for result in results {
        if let Some(work) = items.iter().find(|work| work.host == result.host) {
            let noted = LockResult {
                host: result.host,
                started: result.started,
                succeeded: result.error.is_none(),
                failed_kind: result.failed_kind,
                held_by_another: result.lock_held,
            };
            locks.note(work, &noted);
        }
    }
}

fn phase_switches(phase: &Phase) -> bool {
    phase.work.iter().any(|work| work.steps.iter().any(|step| step.kind == StepKind::Switch))
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Turns a host's output into events, step boundaries and captured values.
struct HostSink<'a> {
    wire: &'a Wire,
    reporter: &'a dyn Reporter,
    host: &'a str,
    phase: &'a str,
    work: &'a HostWork,
    step_started: Vec<Option<Instant>>,
    ended: Vec<Option<i32>>,
    tail: VecDeque<String>,
    captures: BTreeMap<String, String>,
}

impl HostSink<'_> {
    /// The step that started and has not ended.
    fn current_step(&self) -> Option<usize> {
        (0..self.ended.len()).rev().find(|&index| self.step_started[index].is_some() && self.ended[index].is_none())
    }
}

impl OutputSink for HostSink<'_> {
    fn line(&mut self, stream: Stream, line: &str) {
        if stream == Stream::Stdout {
            if let Some(marker) = self.wire.parse(line) {
                match marker {
                    Marker::Start { step } if step < self.step_started.len() => {
                        self.step_started[step] = Some(Instant::now());
                        self.reporter.report(Event::StepStarted {
                            host: self.host.to_owned(),
                            phase: self.phase.to_owned(),
                            step,
                            title: self.work.steps[step].title.clone(),
                        });
                    }
                    Marker::End { step, status } if step < self.ended.len() => {
                        self.ended[step] = Some(status);
                        let duration_ms = self.step_started[step].map_or(0, elapsed_ms);
                        self.reporter.report(Event::StepFinished {
                            host: self.host.to_owned(),
                            phase: self.phase.to_owned(),
                            step,
                            title: self.work.steps[step].title.clone(),
                            status,
                            duration_ms,
                        });
                    }
                    _ => {}
                }
                return;
            }
            if let Some((name, value)) = line.strip_prefix("DEPLOYER-CAPTURE ").and_then(|rest| rest.split_once('=')) {
                self.captures.insert(name.to_owned(), value.to_owned());
            }
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
        self.reporter.report(Event::Output { host: self.host.to_owned(), stream, line: line.to_owned() });
    }
}
