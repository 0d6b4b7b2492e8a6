//! One host's work in one phase: fill the steps' slots, send the phase script,
//! follow the step markers, and keep what the host reported.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use deployer_plan::protocol::captured::Captured;
use deployer_plan::protocol::report::HostReport;
use deployer_plan::{Effect, HostWork, LOCK_HELD_STATUS, Phase};

use super::lead::Lead;
use super::{Executor, RunContext, elapsed_ms};
use crate::cloud::Cloud;
use crate::events::{Event, Reporter};
use crate::mask::Masker;
use crate::transport::{OutputSink, Stream, Transport, TransportError};
use crate::upload::Attachment;
use crate::wire::{KILL_GRACE_SECONDS, Marker, TIMED_OUT_STATUS, Wire};

/// Lines of a host's output kept for error messages.
const TAIL_LINES: usize = 20;

/// Seconds beyond the steps' own limits before a silent host is given up on.
const ANSWER_GRACE_SECONDS: u64 = 10;

/// What one host's work in one phase came to.
pub(super) struct WorkResult {
    pub host: usize,
    pub started: bool,
    /// The failing step's title (if known) and why.
    pub error: Option<(Option<String>, String)>,
    /// The effect of the step that failed; `None` with an error means the host
    /// stopped answering (its state is unknown).
    pub failed_effect: Option<Effect>,
    /// The lock step found another run's lock.
    pub lock_held: bool,
    /// A step that points `current` at the new release succeeded (later steps
    /// of the same script may still have failed).
    pub switched: bool,
    /// What the host reported about its state, when the phase derives values.
    pub report: Option<HostReport>,
    pub tail: Vec<String>,
    pub duration_ms: u64,
}

impl WorkResult {
    pub fn not_started(host: usize) -> Self {
        Self {
            host,
            started: false,
            error: None,
            failed_effect: None,
            lock_held: false,
            switched: false,
            report: None,
            tail: Vec::new(),
            duration_ms: 0,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.started && self.error.is_none()
    }
}

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// Whether `phase` is one of the plan's phases and no later one has work on
    /// `host` (an undo phase is not one of them: false).
    fn is_last_phase_of(&self, phase: &Phase, host: usize) -> bool {
        self.plan.phases.iter().position(|planned| std::ptr::eq(planned, phase)).is_some_and(|index| {
            self.plan.phases[index + 1..].iter().all(|later| later.work.iter().all(|work| work.host != host))
        })
    }

    pub(super) async fn run_work(
        &self,
        context: &RunContext,
        phase: &Phase,
        work: &HostWork,
        (captured, lead): (&BTreeMap<Captured, String>, Option<&Lead>),
    ) -> WorkResult {
        let started = Instant::now();
        let host = &self.plan.hosts[work.host];
        let (script, upload) = match self.expose(context, work, captured) {
            Ok(prepared) => prepared,
            Err((title, error)) => {
                return WorkResult { error: Some((Some(title), error)), ..WorkResult::not_started(work.host) };
            }
        };
        // With `max_connections`, the host may have to connect again (and wait for
        // a free slot) before it can work.
        if let Err(error) = self.open(context, work.host).await {
            return WorkResult { error: Some((None, error)), ..WorkResult::not_started(work.host) };
        }
        let mut sink = HostSink {
            wire: &context.wire,
            masker: &context.masker,
            reporter: self.reporter,
            host: &host.name,
            phase: &phase.name,
            work,
            step_started: vec![None; work.steps.len()],
            ended: vec![None; work.steps.len()],
            tail: VecDeque::new(),
            report: phase.derives.as_ref().map(|_| HostReport::default()),
            lead,
        };
        // The host enforces each step's limit itself; this deadline covers a host that
        // stops answering altogether (frozen, or its packets silently dropped).
        let deadline =
            work.steps.iter().map(|step| u64::from(step.timeout) + u64::from(KILL_GRACE_SECONDS)).sum::<u64>()
                + ANSWER_GRACE_SECONDS;
        if self.is_last_phase_of(phase, work.host) {
            self.transport.last_script_next(work.host);
        }
        let status = match tokio::time::timeout(Duration::from_secs(deadline), async {
            let plan_host = context.host(self.plan, work.host);
            match upload {
                Some(upload) => self.transport.run_receiving(work.host, &plan_host, upload, script, &mut sink).await,
                None => self.transport.run(work.host, &plan_host, script, &mut sink).await,
            }
        })
        .await
        {
            Ok(status) => status,
            Err(_) => Err(TransportError::Lost(format!("the host stopped answering (no reply within {deadline}s)"))),
        };
        context.connections.release(work.host);
        let mut result = WorkResult {
            started: true,
            report: sink.report.take(),
            tail: sink.tail.iter().cloned().collect(),
            duration_ms: elapsed_ms(started),
            ..WorkResult::not_started(work.host)
        };
        result.switched = work
            .steps
            .iter()
            .zip(&sink.ended)
            .any(|(step, status)| step.effect == Effect::SwitchesCurrent && *status == Some(0));
        let failed_step = sink.ended.iter().position(|status| matches!(status, Some(code) if *code != 0));
        result.error = match (status, failed_step) {
            (Err(error), _) => {
                Some((sink.current_step().map(|index| work.steps[index].title.clone()), error.to_string()))
            }
            (Ok(_), Some(index)) => {
                let step = &work.steps[index];
                result.failed_effect = Some(step.effect);
                let code = sink.ended[index].unwrap_or_default();
                result.lock_held = step.effect == Effect::TakesLock && code == LOCK_HELD_STATUS;
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
                let current = sink.current_step();
                let during = current.map(|index| format!(" during `{}`", work.steps[index].title)).unwrap_or_default();
                Some((
                    current.map(|index| work.steps[index].title.clone()),
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
}

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// The bytes a step of `work` receives ahead of the phase's script, if one
    /// does (at most one per phase: a second is refused as a plan error).
    fn attachment(&self, work: &HostWork) -> Result<Option<Attachment>, (String, String)> {
        let mut uploads = work.steps.iter().filter_map(|step| step.upload.as_ref().map(|upload| (step, upload)));
        let Some((step, upload)) = uploads.next() else { return Ok(None) };
        if let Some((second, _)) = uploads.next() {
            return Err((second.title.clone(), "a phase can receive one upload, and this is a second".to_owned()));
        }
        let bytes = self.options.uploads.get(&upload.payload).ok_or_else(|| {
            (step.title.clone(), format!("the upload `{}` was not made on this machine", upload.payload))
        })?;
        Ok(Some(Attachment { path: upload.path.clone(), bytes: std::sync::Arc::clone(bytes) }))
    }

    /// The host's phase script, every step's slots filled, and the upload it
    /// receives; or the failing step's title and why.
    fn expose(
        &self,
        context: &RunContext,
        work: &HostWork,
        captured: &BTreeMap<Captured, String>,
    ) -> Result<(String, Option<Attachment>), (String, String)> {
        let mut scripts = Vec::with_capacity(work.steps.len());
        for step in &work.steps {
            let exposed = step.script.expose_with_payloads(
                |name| self.secrets.get(name).cloned().ok_or_else(|| format!("secret `{name}` is missing")),
                |name| captured.get(&name).cloned().ok_or_else(|| format!("no host reported the {}", name.describe())),
                |name| self.options.payloads.get(name).map(String::as_str),
            );
            // Checked as it goes on the wire, not value by value: no combination
            // of values may end the step's here-document early.
            let script = exposed
                .and_then(|script| context.wire.check_content(&script).map(|()| script))
                .map_err(|error| (step.title.clone(), error))?;
            scripts.push(script);
        }
        Ok((context.wire.phase_script(&work.steps, &scripts), self.attachment(work)?))
    }
}

/// Turns a host's output into events, step boundaries and its state report.
struct HostSink<'a> {
    wire: &'a Wire,
    masker: &'a Masker,
    reporter: &'a dyn Reporter,
    host: &'a str,
    phase: &'a str,
    work: &'a HostWork,
    step_started: Vec<Option<Instant>>,
    ended: Vec<Option<i32>>,
    tail: VecDeque<String>,
    report: Option<HostReport>,
    /// When this host leads its phase: told when its lock step ends.
    lead: Option<&'a Lead>,
}

impl HostSink<'_> {
    /// The step that started and has not ended.
    fn current_step(&self) -> Option<usize> {
        (0..self.ended.len()).rev().find(|&index| self.step_started[index].is_some() && self.ended[index].is_none())
    }

    fn marker(&mut self, marker: Marker) {
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
                if let (Some(lead), Effect::TakesLock) = (self.lead, self.work.steps[step].effect) {
                    lead.decide(status == 0);
                }
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
    }
}

impl OutputSink for HostSink<'_> {
    fn line(&mut self, stream: Stream, line: &str) {
        let line = &*self.wire.without_heartbeats(line);
        if stream == Stream::Stdout {
            if let Some(marker) = self.wire.parse(line) {
                self.marker(marker);
                return;
            }
            if let Some(report) = &mut self.report {
                report.push_line(line);
            }
        }
        let line = self.masker.mask(line).into_owned();
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        self.reporter.report(Event::Output { host: self.host.to_owned(), stream, line });
    }
}
