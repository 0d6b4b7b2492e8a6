//! Runs a plan on its hosts.
//!
//! # Scheduling
//! Every host is connected first, with a bounded number of handshakes at once
//! ([`ExecOptions::connect_concurrency`]); an unreachable host stops the run before
//! any phase, unless `--skip-bad-hosts` leaves it out. Then the phases run in plan
//! order, each followed by a barrier: a phase starts only when the previous one
//! ended on every host. Within a phase, hosts work up to the pool size at once, or
//! in batches, each batch finishing before the next starts. A host runs all its
//! steps of a phase as one script ([`Wire`]). In a phase whose first host leads
//! ([`Phase::leads`], the lock), the other hosts start once the leader's lock
//! step succeeded (its end marker), not when its whole script ended.
//!
//! # Failure policy
//! By default the first failure stops the run: hosts already working finish their
//! step, no new work starts (within the phase too), and undo begins. With
//! `warn_only` every phase runs on every host and the status still reports the
//! failure. A phase that derives values ([`Phase::derives`]) fails when a host
//! cannot give one or the hosts disagree. A stop request (the cancel token) is
//! handled like a failure that ends in `Interrupted`.
//!
//! # Undo
//! Each phase carries the steps that undo it. After a stop, the undo of every
//! phase that started runs on exactly the hosts where it started, newest phase
//! first, always to the end (a failing undo step is reported, not fatal). With
//! `--on-failure=halt` a run that failed after switching undoes only the phases
//! before the first switch: switched hosts stay, and the outcome names them.
//!
//! # Cloud phases
//! A phase scoped to the controller ([`Scope::Controller`]) runs no host: its
//! cloud steps go, in order, to the [`Cloud`]; the first failure fails the phase.
//! Its cloud undo runs like any phase's undo, newest phase first. A plan with no
//! host (cloud calls only) connects to nothing.
//!
//! # State
//! The facts gathered on the way live in one [`RunState`]; the status is computed
//! from them by one pure function, [`state::run_status`], whose documentation is
//! its truth table. What the executor does with a step depends on its declared
//! [`Effect`](deployer_plan::Effect), never on its kind.

mod connect;
mod connections;
mod controller;
mod gate;
mod host;
mod lead;
mod state;
mod traffic;
mod waves;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use deployer_plan::protocol::captured::{Captured, combine};
use deployer_plan::{Concurrency, Effect, HostWork, Phase, Plan, Scope, When};
use futures::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use self::connections::Connections;
use self::host::WorkResult;
use self::lead::Lead;
use self::state::{RunState, Settled, run_status};
use crate::cloud::{Cloud, NoCloud};
use crate::events::{Event, Reporter};
use crate::locks::LockResult;
use crate::mask::Masker;
use crate::outcome::{Failure, HostReport, HostResult, Outcome, RunStatus};
use crate::transport::Transport;
use crate::wire::Wire;

/// A phase's work results, and a gate between waves that failed (its title and why).
struct PhaseRun {
    results: Vec<WorkResult>,
    gate_failure: Option<(String, String)>,
}

/// Handshakes in flight at once to one sshd by default: its `MaxStartups`
/// (10:30:100) starts dropping new connections past 10 unauthenticated ones.
pub const DEFAULT_CONNECT_CONCURRENCY: usize = 8;

#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Keep going after a failure (the exit status still reports it).
    pub warn_only: bool,
    /// Leave unreachable hosts out instead of stopping before the first phase.
    pub skip_bad_hosts: bool,
    /// Connections being set up at once to one sshd (host and port); across
    /// the fleet at most `MAX_HANDSHAKES` (64).
    pub connect_concurrency: usize,
    /// New connections started per second at most.
    pub connect_rate: Option<u32>,
    /// Connections open at once at most; `None` keeps every host connected.
    pub max_connections: Option<usize>,
    /// Overrides every phase's pool size (`--pool-size`).
    pub pool_size: Option<u32>,
    /// `--on-failure=halt`: after a failure at or after a switch, leave switched
    /// hosts as they are (the outcome names them) instead of switching them back.
    pub halt_on_failure: bool,
    /// Where commands run on this machine (rollout gates) start: the
    /// configuration's directory.
    pub controller_directory: Option<std::path::PathBuf>,
    /// Makes the bytes hosts ask for (see [`deployer_plan::Upload`]); each
    /// host's session reads the one copy made for what it has.
    pub uploads: std::sync::Arc<dyn crate::upload::UploadSource>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            warn_only: false,
            skip_bad_hosts: false,
            connect_concurrency: DEFAULT_CONNECT_CONCURRENCY,
            connect_rate: None,
            max_connections: None,
            pool_size: None,
            halt_on_failure: false,
            controller_directory: None,
            uploads: std::sync::Arc::new(crate::upload::FixedUploads::default()),
        }
    }
}

/// What every host's work in one run shares.
pub(super) struct RunContext {
    /// The wire format, keyed with this run's unguessable nonce.
    pub wire: Wire,
    /// Masks the run's secret values in host output before anything reports it.
    pub masker: Masker,
    /// The open connections, their budget and how new ones start.
    pub connections: Connections,
    /// What cloud steps made so far: servers launched (by launch slot), ids.
    pub cloud: std::sync::Mutex<crate::cloud::CloudState>,
}

impl RunContext {
    /// Plan host `index` as the transport reaches it: a launch slot becomes its
    /// instance's address once launched.
    pub(super) fn host<'p>(&self, plan: &'p Plan, index: usize) -> std::borrow::Cow<'p, deployer_plan::PlanHost> {
        let host = &plan.hosts[index];
        if host.launch.is_none() {
            return std::borrow::Cow::Borrowed(host);
        }
        match self.cloud.lock().expect("not poisoned").launched.get(&index) {
            Some(instance) => {
                std::borrow::Cow::Owned(deployer_plan::PlanHost { host: instance.address.clone(), ..host.clone() })
            }
            None => std::borrow::Cow::Borrowed(host),
        }
    }
}

pub struct Executor<'a, T: Transport, C: Cloud = NoCloud> {
    pub plan: &'a Plan,
    pub transport: &'a T,
    /// Performs the cloud steps of controller phases.
    pub cloud: &'a C,
    pub reporter: &'a dyn Reporter,
    /// Secret values by name, from the local secrets file.
    pub secrets: &'a BTreeMap<String, String>,
    pub options: ExecOptions,
    /// Cancelled on a stop request: no new work starts, running work finishes,
    /// then undo.
    pub cancel: CancellationToken,
}

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// Checks what can be checked without a host: every secret the plan uses is
    /// known and can travel byte-exact.
    pub fn check(&self, wire: &Wire) -> Result<(), String> {
        for name in self.plan.secret_names() {
            let value = self.secrets.get(name).ok_or_else(|| format!("secret `{name}` is not in the secrets file"))?;
            wire.check_content(value).map_err(|error| format!("secret `{name}`: {error}"))?;
        }
        for name in self.plan.upload_names() {
            if !self.options.uploads.makes(name) {
                return Err(format!("the plan sends the upload `{name}`, which this machine did not make"));
            }
        }
        Ok(())
    }

    pub async fn run(&self) -> Outcome {
        let started = Instant::now();
        let context = RunContext {
            wire: Wire::new(crate::nonce::fresh())
                .with_heartbeat(crate::wire::heartbeat_seconds(self.plan.hosts.len())),
            masker: Masker::new(self.secrets),
            connections: Connections::new(
                self.options.max_connections,
                self.options.connect_concurrency,
                self.options.connect_rate,
            ),
            cloud: std::sync::Mutex::default(),
        };
        let mut outcome = Outcome::new(self.plan);
        if let Err(reason) = self.check(&context.wire) {
            outcome.status = RunStatus::Failed;
            outcome.refused = Some(reason);
            return self.finish(&context, outcome, started).await;
        }
        let mut state = RunState::new(self.plan.hosts.len());
        if !self.connect_all(&context, &mut outcome, &mut state.excluded).await {
            outcome.status = RunStatus::Failed;
            return self.finish(&context, outcome, started).await;
        }
        for (index, phase) in self.plan.phases.iter().enumerate() {
            if self.cancel.is_cancelled() {
                break;
            }
            let failed = self.run_forward(&context, index, phase, &mut state, &mut outcome, None).await;
            if failed {
                state.failed_at.get_or_insert(index);
                if !self.options.warn_only {
                    break;
                }
            }
        }
        state.interrupted = self.cancel.is_cancelled();
        if state.interrupted {
            self.reporter.report(Event::Interrupted);
        }
        let settled = self.settle(&context, &mut state, &mut outcome).await;
        outcome.locks_left = state.locks.left().into_iter().map(|host| self.plan.hosts[host].name.clone()).collect();
        outcome.status = run_status(settled);
        self.run_follow_ups(&context, &state, &mut outcome).await;
        self.finish(&context, outcome, started).await
    }

    /// The plan's follow-ups whose `when` matches the outcome, in order, on the
    /// hosts still connected. Their failures are reported apart: the outcome is
    /// fixed before they start.
    async fn run_follow_ups(&self, context: &RunContext, state: &RunState, outcome: &mut Outcome) {
        let fires = |when: When| match when {
            When::Succeeded => outcome.status == RunStatus::Success,
            When::Failed => {
                matches!(outcome.status, RunStatus::Failed | RunStatus::RolledBack | RunStatus::Partial)
                    && outcome.refused.is_none()
            }
            When::RolledBack => outcome.status == RunStatus::RolledBack,
        };
        let matching: Vec<&Phase> = self
            .plan
            .follow_ups
            .iter()
            .filter(|follow_up| fires(follow_up.when))
            .map(|follow_up| &follow_up.phase)
            .collect();
        for (offset, phase) in matching.into_iter().enumerate() {
            let mut scratch_state = RunState::new(self.plan.hosts.len());
            scratch_state.excluded.clone_from(&state.excluded);
            let mut scratch = Outcome::new(self.plan);
            scratch.captured.clone_from(&outcome.captured);
            let index = self.plan.phases.len() + offset;
            let _ =
                self.run_forward(context, index, phase, &mut scratch_state, &mut scratch, Some(outcome.status)).await;
            outcome.follow_up_failures.extend(scratch.failures);
        }
    }

    /// Runs one phase forward and records what it came to. Returns whether it failed.
    /// `after`: the fixed outcome a follow-up runs after (`None` for the plan's phases).
    async fn run_forward(
        &self,
        context: &RunContext,
        index: usize,
        phase: &Phase,
        state: &mut RunState,
        outcome: &mut Outcome,
        after: Option<RunStatus>,
    ) -> bool {
        if phase.scope == Scope::Controller {
            return self.run_cloud_forward(context, index, phase, state, outcome, after).await;
        }
        let started = Instant::now();
        let items: Vec<&HostWork> = phase.work.iter().filter(|work| !state.excluded[work.host]).collect();
        self.reporter.report(Event::PhaseStarted {
            phase: phase.name.clone(),
            number: index + 1,
            of: self.plan.phases.len(),
            hosts: items.len(),
        });
        let mut failed = false;
        let mut results = Vec::new();
        if items.len() < phase.work.len() && matches!(phase.scope, Scope::Once { .. }) {
            failed = true;
            outcome.failures.push(Failure::of_phase(
                &self.plan.hosts[phase.work[0].host].name,
                phase,
                "the host chosen to run this phase was left out as unreachable",
            ));
        } else {
            let run = self.run_phase(context, phase, &items, &outcome.captured, false).await;
            results = run.results;
            if let Some((step, error)) = run.gate_failure {
                failed = true;
                outcome.failures.push(Failure::on_controller(&phase.name, step, error));
            }
        }
        note_locks(state, &items, &results);
        // A host whose lock step found another run's lock took nothing and changed
        // nothing: its undo would only touch the holder's lock, so it gets none.
        state.attempted.push(
            results.iter().filter(|result| result.started && !result.lock_held).map(|result| result.host).collect(),
        );
        state.switched.extend(results.iter().filter(|result| result.switched).map(|result| result.host));
        for result in results.iter().filter(|result| result.started) {
            let work = phase.work.iter().find(|work| work.host == result.host);
            for step in work.into_iter().flat_map(|work| &work.steps).filter(|step| step.effect == Effect::Irreversible)
            {
                state.irreversible.push((result.host, step.title.clone()));
            }
        }
        for result in &results {
            outcome.hosts[result.host].duration_ms += result.duration_ms;
            state.lock_held |= result.lock_held;
            if let Some((step, error)) = &result.error {
                failed = true;
                let host = &self.plan.hosts[result.host].name;
                outcome.hosts[result.host].result =
                    HostResult::Failed { phase: phase.name.clone(), error: error.clone() };
                outcome.failures.push(Failure {
                    host: host.clone(),
                    phase: phase.name.clone(),
                    step: step.clone(),
                    error: error.clone(),
                    output_tail: result.tail.clone(),
                });
            }
        }
        if !failed && let Err(error) = self.derive(phase, &results, &mut outcome.captured) {
            failed = true;
            outcome.failures.push(Failure::of_phase("(all hosts)", phase, &error));
        }
        self.reporter.report(Event::PhaseFinished {
            phase: phase.name.clone(),
            failed: results.iter().filter(|result| result.error.is_some()).count(),
            duration_ms: elapsed_ms(started),
        });
        failed
    }

    /// After the phases: undo what must be undone, and gather the facts the status
    /// needs.
    async fn settle(&self, context: &RunContext, state: &mut RunState, outcome: &mut Outcome) -> Settled {
        let failed = state.failed_at.is_some();
        let stopped_early = (failed && !self.options.warn_only) || state.interrupted;
        let switched = state.switch_started(|index| self.plan.phases[index].switches_current());
        let halted = stopped_early && switched && self.options.halt_on_failure && !state.interrupted;
        let mut undone_consistently = true;
        if halted {
            // Only the phases before the first switch are undone (the lock is
            // released, unfinished releases removed); switched hosts stay.
            let first_switch = self.plan.phases.iter().position(Phase::switches_current).unwrap_or(usize::MAX);
            let mut before = state.attempted.clone();
            for hosts in before.iter_mut().skip(first_switch) {
                hosts.clear();
            }
            outcome.switched = self.names(&state.switched);
            self.undo(context, &before, outcome, state).await;
            undone_consistently = false;
        } else if stopped_early {
            let attempted = state.attempted.clone();
            undone_consistently = self.undo(context, &attempted, outcome, state).await;
            Self::mark_stopped_hosts(state, outcome);
            outcome.irreversible = state
                .irreversible
                .iter()
                .map(|(host, step)| format!("{}: {step}", self.plan.hosts[*host].name))
                .collect();
        } else if self.options.warn_only && failed {
            outcome.switched = self.names(&state.switched);
        }
        Settled {
            lock_held: state.lock_held,
            interrupted: state.interrupted,
            failed,
            warn_only: self.options.warn_only,
            switched,
            halted,
            undone_consistently,
        }
    }

    /// After a stop and its undo, a host that did not fail itself says what became
    /// of it, never `ok`: its work was undone, or nothing ran on it.
    fn mark_stopped_hosts(state: &RunState, outcome: &mut Outcome) {
        for (host, report) in outcome.hosts.iter_mut().enumerate() {
            if report.result != HostResult::Ok {
                continue;
            }
            let ran = state.attempted.iter().any(|hosts| hosts.contains(&host));
            let undo_failed = outcome.undo_failures.iter().any(|failure| failure.host == report.host);
            if !ran {
                report.result = HostResult::NothingRan;
            } else if !undo_failed {
                report.result = HostResult::Undone;
            }
        }
    }

    async fn finish(&self, context: &RunContext, mut outcome: Outcome, started: Instant) -> Outcome {
        self.transport.close().await;
        outcome.connections_opened = context.connections.opened.load(Ordering::Relaxed);
        outcome.dropped_handshakes = context.connections.dropped_handshakes.load(Ordering::Relaxed);
        outcome.duration_ms = elapsed_ms(started);
        self.reporter.report(Event::Finished { status: outcome.status, duration_ms: outcome.duration_ms });
        outcome
    }

    async fn run_phase(
        &self,
        context: &RunContext,
        phase: &Phase,
        items: &[&HostWork],
        captured: &BTreeMap<Captured, String>,
        undo: bool,
    ) -> PhaseRun {
        let stop = AtomicBool::new(false);
        let chunks = Self::chunks(phase, items, undo);
        let pool = match &phase.concurrency {
            Concurrency::Pool { size } => self.options.pool_size.unwrap_or(*size),
            Concurrency::Batches { size } => *size,
            Concurrency::Waves { .. } => {
                let widest = chunks.iter().map(Vec::len).max().unwrap_or(1);
                self.options.pool_size.map_or(widest, |size| widest.min(size as usize)).try_into().unwrap_or(u32::MAX)
            }
        }
        .max(1) as usize;
        let mut run = PhaseRun { results: Vec::with_capacity(items.len()), gate_failure: None };
        let count = chunks.len();
        for (number, chunk) in chunks.into_iter().enumerate() {
            if count > 1 && !undo {
                self.reporter.report(Event::BatchStarted {
                    phase: phase.name.clone(),
                    number: number + 1,
                    of: count,
                    hosts: chunk.iter().map(|work| self.plan.hosts[work.host].name.clone()).collect(),
                    wave: matches!(phase.concurrency, Concurrency::Waves { .. }),
                });
            }
            let run_one = |work, lead| self.run_one(context, phase, work, (captured, undo, lead), &stop);
            let chunk_results: Vec<WorkResult> = match chunk.split_first() {
                Some((first, rest)) if phase.leads && !undo && !rest.is_empty() => {
                    let (lead, follow) = Lead::new();
                    let leader = run_one(*first, Some(&lead));
                    let others = async {
                        if !follow.go().await && !self.options.warn_only {
                            return rest.iter().map(|work| WorkResult::not_started(work.host)).collect();
                        }
                        stream::iter(rest.iter().copied())
                            .map(|work| run_one(work, None))
                            .buffer_unordered(pool.saturating_sub(1).max(1))
                            .collect::<Vec<_>>()
                            .await
                    };
                    let (first, mut results) = futures::join!(leader, others);
                    results.push(first);
                    results
                }
                _ => {
                    stream::iter(chunk.iter().copied())
                        .map(|work| run_one(work, None))
                        .buffer_unordered(pool)
                        .collect()
                        .await
                }
            };
            run.results.extend(chunk_results);
            if !undo && stop.load(Ordering::SeqCst) && !self.options.warn_only {
                break;
            }
            let last = number + 1 == count;
            if let (false, false, Some(gate)) = (undo, last, &phase.between_waves) {
                if self.cancel.is_cancelled() {
                    break;
                }
                let hosts: Vec<String> = chunk.iter().map(|work| self.plan.hosts[work.host].name.clone()).collect();
                if let Err(error) = self.between_waves(phase, gate, number + 1, count, &hosts).await {
                    run.gate_failure = Some((format!("gate after wave {}", number + 1), error));
                    break;
                }
            }
        }
        run.results.sort_by_key(|result| result.host);
        run
    }

    /// One host's work in a phase, unless the run is stopping; a failure stops
    /// the others (`stop`) and a leader says whether the others may start.
    async fn run_one(
        &self,
        context: &RunContext,
        phase: &Phase,
        work: &HostWork,
        (captured, undo, lead): (&BTreeMap<Captured, String>, bool, Option<&Lead>),
        stop: &AtomicBool,
    ) -> WorkResult {
        let halted = !undo && (self.cancel.is_cancelled() || (stop.load(Ordering::SeqCst) && !self.options.warn_only));
        if halted {
            return WorkResult::not_started(work.host);
        }
        let result = self.run_work_in_service(context, phase, work, (captured, undo, lead)).await;
        if let Some(lead) = lead {
            // Its work ended without a lock step's end marker.
            lead.decide(result.succeeded());
        }
        if result.error.is_some() {
            stop.store(true, Ordering::SeqCst);
        }
        result
    }

    fn names(&self, hosts: &[usize]) -> Vec<String> {
        let names: BTreeSet<&str> = hosts.iter().map(|&host| self.plan.hosts[host].name.as_str()).collect();
        names.into_iter().map(str::to_owned).collect()
    }

    /// The values a phase derives from its hosts' reports: each host's, then one
    /// for the run (the hosts must agree where it matters).
    fn derive(
        &self,
        phase: &Phase,
        results: &[WorkResult],
        captured: &mut BTreeMap<Captured, String>,
    ) -> Result<(), String> {
        let Some(derivation) = &phase.derives else { return Ok(()) };
        let mut values: BTreeMap<Captured, BTreeMap<String, String>> = BTreeMap::new();
        let mut problems = Vec::new();
        let nothing_reported = deployer_plan::protocol::report::HostReport::default();
        for result in results.iter().filter(|result| result.started) {
            let host = &self.plan.hosts[result.host].name;
            match derivation.derive(result.report.as_ref().unwrap_or(&nothing_reported)) {
                Ok(derived) => {
                    for (name, value) in derived {
                        values.entry(name).or_default().insert(host.clone(), value);
                    }
                }
                Err(error) => problems.push(format!("{host}: {error}")),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        for &name in derivation.values() {
            let per_host = values.get(&name).cloned().unwrap_or_default();
            let value = combine(name, &per_host)?;
            let mut by_value: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (host, value) in per_host {
                by_value.entry(value).or_default().push(host);
            }
            if by_value.len() > 1 {
                self.reporter.report(Event::HostsDiffer { name, values: by_value });
            }
            self.reporter.report(Event::Captured { name, value: value.clone() });
            captured.insert(name, value);
        }
        Ok(())
    }

    /// Runs the undo of every phase that ran, newest first, on the hosts that ran it.
    /// Returns false when a host may not be back on its previous release (a switch
    /// back failed, or the host stopped answering).
    async fn undo(
        &self,
        context: &RunContext,
        attempted: &[Vec<usize>],
        outcome: &mut Outcome,
        state: &mut RunState,
    ) -> bool {
        let mut consistent = true;
        for (index, hosts) in attempted.iter().enumerate().rev() {
            let phase = &self.plan.phases[index];
            if phase.scope == Scope::Controller {
                if state.cloud_started.contains(&index) && !phase.cloud_undo.is_empty() {
                    let name = format!("undo {}", phase.name);
                    self.reporter.report(Event::UndoStarted { phase: phase.name.clone(), hosts: 0 });
                    if let Err((step, error)) =
                        self.run_cloud_steps(context, &name, &phase.cloud_undo, true, (None, outcome)).await
                    {
                        // A leftover image or builder is reported, but every
                        // server serves what it did: not a partial run.
                        let cleanup = phase
                            .cloud_undo
                            .iter()
                            .filter(|undo| undo.title == step)
                            .all(|undo| undo.action.is_cleanup());
                        consistent &= cleanup;
                        outcome.undo_failures.push(Failure::on_controller(&name, step, error));
                    }
                }
                continue;
            }
            let items: Vec<&HostWork> = phase.undo.iter().filter(|work| hosts.contains(&work.host)).collect();
            if items.is_empty() {
                continue;
            }
            self.reporter.report(Event::UndoStarted { phase: phase.name.clone(), hosts: items.len() });
            let undo_phase = Phase { name: format!("undo {}", phase.name), ..phase.clone() };
            let results = self.run_phase(context, &undo_phase, &items, &outcome.captured, true).await.results;
            note_locks(state, &items, &results);
            for result in results {
                if result.error.is_some() && matches!(result.failed_effect, None | Some(Effect::RestoresCurrent)) {
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

fn note_locks(state: &mut RunState, items: &[&HostWork], results: &[WorkResult]) {
    for result in results {
        if let Some(work) = items.iter().find(|work| work.host == result.host) {
            let noted = LockResult {
                host: result.host,
                started: result.started,
                succeeded: result.error.is_none(),
                failed_effect: result.failed_effect,
                held_by_another: result.lock_held,
            };
            state.locks.note(work, &noted);
        }
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Outcome {
    fn new(plan: &Plan) -> Self {
        Self {
            status: RunStatus::Success,
            hosts: plan
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
            irreversible: Vec::new(),
            refused: None,
            follow_up_failures: Vec::new(),
            connections_opened: 0,
            dropped_handshakes: 0,
            launched: BTreeMap::new(),
            duration_ms: 0,
        }
    }
}

impl Failure {
    fn of_phase(host: &str, phase: &Phase, error: &str) -> Self {
        Self {
            host: host.to_owned(),
            phase: phase.name.clone(),
            step: None,
            error: error.to_owned(),
            output_tail: Vec::new(),
        }
    }
}
