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
use crate::upload::MAX_AHEAD;
use crate::wire::{Ahead, KILL_GRACE_SECONDS, Marker, TIMED_OUT_STATUS, Wire};

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
    /// How many of the plan's phases after `phase` work on `host` (none after an
    /// undo phase, which is not one of them).
    fn phases_after(&self, phase: &Phase, host: usize) -> usize {
        self.plan.phases.iter().position(|planned| std::ptr::eq(planned, phase)).map_or(0, |index| {
            self.plan.phases[index + 1..].iter().filter(|later| later.work.iter().any(|work| work.host == host)).count()
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
        let ahead = match Self::requesting(work) {
            Ok(Some((_, payload))) => self.ahead(payload, &host.name).await,
            _ => None,
        };
        let ahead = ahead.as_ref().map(|(guess, reply)| Ahead { guess, reply });
        let (script, requesting) = match self.expose(context, work, captured, ahead) {
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
            want: None,
        };
        self.transport.scripts_after_next(work.host, self.phases_after(phase, work.host));
        let deadline = answer_deadline(work);
        let sent = tokio::time::timeout(deadline, self.send(context, work, (script, requesting), &mut sink)).await;
        let (status, upload_error) = sent.unwrap_or_else(|_| {
            let waited = deadline.as_secs();
            (Err(TransportError::Lost(format!("the host stopped answering (no reply within {waited}s)"))), None)
        });
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
        // The step failed because its data never came: say why it did not.
        if let (Some(_), Some((title, error))) = (&result.error, upload_error) {
            result.error = Some((Some(title), format!("could not make the data the host asked for: {error}")));
        }
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

/// Seconds a host's phase may take: the host enforces each step's limit itself;
/// this covers a host that stops answering altogether (frozen, or its packets
/// silently dropped).
fn answer_deadline(work: &HostWork) -> Duration {
    Duration::from_secs(
        work.steps.iter().map(|step| u64::from(step.timeout) + u64::from(KILL_GRACE_SECONDS)).sum::<u64>()
            + ANSWER_GRACE_SECONDS,
    )
}

/// A step's request for its upload: the step, and what the host has.
type Want = (usize, Option<String>);

/// The step of a phase that asks for an upload, and the upload's name.
type Requesting<'w> = Option<(usize, &'w str)>;

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// The step of `work` that asks for an upload, if one does, and the upload's
    /// name (at most one per phase: a second is refused as a plan error).
    fn requesting(work: &HostWork) -> Result<Requesting<'_>, (String, String)> {
        let mut uploads = work
            .steps
            .iter()
            .enumerate()
            .filter_map(|(index, step)| step.upload.as_ref().map(|upload| (index, upload.payload.as_str())));
        let first = uploads.next();
        if let Some((second, _)) = uploads.next() {
            let title = work.steps[second].title.clone();
            return Err((title, "a phase can receive one upload, and this is a second".to_owned()));
        }
        Ok(first)
    }

    /// Runs the host's phase script, answering the request of the step that
    /// asks for an upload, if one does. Returns the script's status, and the
    /// asking step's title and why its upload could not be made, if it could not.
    async fn send(
        &self,
        context: &RunContext,
        work: &HostWork,
        (script, requesting): (String, Requesting<'_>),
        sink: &mut HostSink<'_>,
    ) -> (Result<i32, TransportError>, Option<(String, String)>) {
        let plan_host = context.host(self.plan, work.host);
        let Some((step, payload)) = requesting else {
            return (self.transport.run(work.host, &plan_host, script, sink).await, None);
        };
        let (want, wanted) = tokio::sync::mpsc::unbounded_channel();
        let (reply, replies) = tokio::sync::mpsc::channel(2);
        sink.want = Some((step, want));
        let run = async {
            let status = self.transport.run_conversing(work.host, &plan_host, script, replies, sink).await;
            // No request can come any more: the responder stops waiting.
            sink.want = None;
            status
        };
        let (status, error) = tokio::join!(run, self.respond(payload, wanted, reply));
        (status, error.map(|error| (work.steps[step].title.clone(), error)))
    }

    /// Answers the host's request, if it makes one: the upload `payload` made for
    /// what the host has, then the end of the session's input. Returns why the
    /// upload could not be made, if it could not (the host is sent nothing, and
    /// its step fails).
    async fn respond(
        &self,
        payload: &str,
        mut wanted: tokio::sync::mpsc::UnboundedReceiver<Want>,
        reply: tokio::sync::mpsc::Sender<std::sync::Arc<[u8]>>,
    ) -> Option<String> {
        let (_, base) = wanted.recv().await?;
        match self.options.uploads.upload(payload, base.as_deref()).await {
            Ok(bytes) => {
                for part in crate::upload::reply(bytes) {
                    if reply.send(part).await.is_err() {
                        break;
                    }
                }
                None
            }
            Err(error) => Some(error),
        }
    }

    /// The upload `payload` for what the source guesses `host` has, when it
    /// guesses and the upload is small enough to hold in the script. Not made
    /// is no guess: the host asks, and hears why then.
    async fn ahead(&self, payload: &str, host: &str) -> Option<(String, std::sync::Arc<[u8]>)> {
        let guess = self.options.uploads.guess(payload, host)?;
        match self.options.uploads.upload(payload, Some(&guess)).await {
            Ok(reply) if reply.len() <= MAX_AHEAD => Some((guess, reply)),
            _ => None,
        }
    }

    /// The host's phase script, every step's slots filled (the requesting step
    /// holding the reply `ahead`, if given), and the step that asks for an
    /// upload with the upload's name; or the failing step's title and why.
    fn expose<'w>(
        &self,
        context: &RunContext,
        work: &'w HostWork,
        captured: &BTreeMap<Captured, String>,
        ahead: Option<Ahead<'_>>,
    ) -> Result<(String, Requesting<'w>), (String, String)> {
        let mut scripts = Vec::with_capacity(work.steps.len());
        for step in &work.steps {
            let exposed = step.script.expose(
                |name| self.secrets.get(name).cloned().ok_or_else(|| format!("secret `{name}` is missing")),
                |name| captured.get(&name).cloned().ok_or_else(|| format!("no host reported the {}", name.describe())),
            );
            // Checked as it goes on the wire, not value by value: no combination
            // of values may end the step's here-document early.
            let script = exposed
                .and_then(|script| context.wire.check_content(&script).map(|()| script))
                .map_err(|error| (step.title.clone(), error))?;
            scripts.push(script);
        }
        Ok((context.wire.phase_script_guessing(&work.steps, &scripts, ahead), Self::requesting(work)?))
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
    /// The step that may ask for an upload, and where its request goes; taken
    /// by the first request.
    want: Option<(usize, tokio::sync::mpsc::UnboundedSender<Want>)>,
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
            Marker::Want { step, base } => {
                // Only the requesting step, once, while it runs.
                if self.want.as_ref().is_some_and(|(asking, _)| *asking == step)
                    && self.current_step() == Some(step)
                    && let Some((_, want)) = self.want.take()
                {
                    let _ = want.send((step, base));
                }
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
