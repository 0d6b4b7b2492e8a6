//! A step that asks for an upload mid-phase (the `push` strategy's archive):
//! the run's source answers with what fits what the host says it has, and a
//! source that cannot answer fails that step with its reason, without a wait.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deployer_exec::{Base, ExecOptions, LocalTransport, MAX_AHEAD, RunStatus, UploadFuture, UploadSource};
use deployer_plan::{StepKind, Upload};

use super::{POOL, fixture, log_lines, phase, plan, step};

/// Answers `archive` with `for <base>` (too large to hold ahead for
/// `b16b16b`), and records every request; fails for a host that says
/// `deadbeef`. Guesses its second field for every host.
#[derive(Debug, Default)]
struct Recording(Mutex<Vec<Option<String>>>, Option<&'static str>);

impl UploadSource for Recording {
    fn makes(&self, name: &str) -> bool {
        name == "archive"
    }

    fn upload<'a>(&'a self, _name: &'a str, base: Base<'a>) -> UploadFuture<'a> {
        self.0.lock().unwrap().push(base.map(str::to_owned));
        let answer = match base {
            Some("deadbeef") => Err("the mirror is gone".to_owned()),
            Some("b16b16b") => Ok(Arc::from(vec![b'x'; MAX_AHEAD + 1])),
            other => Ok(Arc::from(format!("for {}", other.unwrap_or("none")).into_bytes())),
        };
        Box::pin(async move { answer })
    }

    fn guess(&self, _name: &str, _host: &str) -> Option<String> {
        self.1.map(str::to_owned)
    }
}

/// A phase per host: `before`, a step that asks with `base` and appends what
/// came to the log, then `after`.
fn asking(log: &std::path::Path, bases: &'static [&'static str]) -> impl Fn(usize) -> Vec<deployer_plan::Step> {
    let log = log.display().to_string();
    move |host| {
        let mut ask = step(
            StepKind::ReceiveArchive,
            "ask",
            &format!(
                // One write per line: the hosts append to one log at once.
                "deployer_request {base}\ndeployer_receive '{log}.{host}'\n\
                 got=$(cat '{log}.{host}')\nprintf 'host {host} got %s\\n' \"$got\" >> '{log}'\n",
                base = bases[host],
            ),
        );
        ask.upload = Some(Upload { payload: "archive".to_owned() });
        vec![
            step(StepKind::Command, "before", &format!("echo 'before {host}' >> '{log}'")),
            ask,
            step(StepKind::Command, "after", &format!("echo 'after {host}' >> '{log}'")),
        ]
    }
}

#[tokio::test]
async fn each_host_gets_what_fits_what_it_has_on_its_phases_session() {
    let fixture = fixture();
    let source = Arc::new(Recording::default());
    let plan = plan(3, vec![phase("fetch", 3, POOL, asking(&fixture.log, &["none", "abc1234", "ABC1234"]))]);
    let options = ExecOptions { uploads: source.clone(), ..ExecOptions::default() };
    let outcome = super::execute_on(&plan, &LocalTransport, options).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    let mut lines = log_lines(&fixture);
    lines.sort();
    assert_eq!(
        lines,
        [
            "after 0",
            "after 1",
            "after 2",
            "before 0",
            "before 1",
            "before 2",
            "host 0 got for none",
            "host 1 got for abc1234",
            "host 2 got for abc1234",
        ]
    );
    let mut asked = source.0.lock().unwrap().clone();
    asked.sort();
    assert_eq!(asked, [None, Some("abc1234".to_owned()), Some("abc1234".to_owned())]);
}

#[tokio::test]
async fn a_source_that_cannot_answer_fails_the_asking_step_with_its_reason_at_once() {
    let fixture = fixture();
    let source = Arc::new(Recording::default());
    let plan = plan(1, vec![phase("fetch", 1, POOL, asking(&fixture.log, &["deadbeef"]))]);
    let options = ExecOptions { uploads: source, ..ExecOptions::default() };
    let started = Instant::now();
    let outcome = super::execute_on(&plan, &LocalTransport, options).await;
    // Not the step's 30 s limit: the host is told at once that nothing comes.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(outcome.status, RunStatus::Failed);
    let failure = &outcome.failures[0];
    assert_eq!(failure.step.as_deref(), Some("ask"));
    assert!(failure.error.contains("the mirror is gone"), "{}", failure.error);
    assert_eq!(log_lines(&fixture), ["before 0"], "the steps after it ran");
}

#[tokio::test]
async fn a_phase_whose_step_never_asks_ends_without_waiting_for_a_reply() {
    let fixture = fixture();
    let source = Arc::new(Recording::default());
    let log = fixture.log.display().to_string();
    let plan = plan(
        1,
        vec![phase("fetch", 1, POOL, move |_| {
            let mut ask = step(StepKind::ReceiveArchive, "ask", &format!("echo 'did not ask' >> '{log}'"));
            ask.upload = Some(Upload { payload: "archive".to_owned() });
            vec![ask, step(StepKind::Command, "after", &format!("echo after >> '{log}'"))]
        })],
    );
    let options = ExecOptions { uploads: source.clone(), ..ExecOptions::default() };
    let started = Instant::now();
    let outcome = super::execute_on(&plan, &LocalTransport, options).await;
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(log_lines(&fixture), ["did not ask", "after"]);
    assert!(source.0.lock().unwrap().is_empty());
}

/// A host that has what the source guessed takes the reply its script holds,
/// and never asks; hosts that have something else ask as without a guess.
#[tokio::test]
async fn a_host_that_has_what_was_guessed_takes_the_reply_held_ahead_without_asking() {
    let fixture = fixture();
    let source = Arc::new(Recording(Mutex::default(), Some("abc1234")));
    let plan = plan(3, vec![phase("fetch", 3, POOL, asking(&fixture.log, &["abc1234", "def5678", "none"]))]);
    let options = ExecOptions { uploads: source.clone(), ..ExecOptions::default() };
    let outcome = super::execute_on(&plan, &LocalTransport, options).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    let mut got: Vec<String> = log_lines(&fixture).into_iter().filter(|line| line.contains(" got ")).collect();
    got.sort();
    assert_eq!(got, ["host 0 got for abc1234", "host 1 got for def5678", "host 2 got for none"]);
    // Made ahead for each host's script; asked for only by the two that guessed wrong.
    let mut asked = source.0.lock().unwrap().clone();
    asked.sort();
    let abc = Some("abc1234".to_owned());
    assert_eq!(asked, [None, abc.clone(), abc.clone(), abc, Some("def5678".to_owned())]);
}

/// A reply too large to hold ahead is not: the host asks for it.
#[tokio::test]
async fn a_guessed_reply_too_large_to_hold_ahead_is_asked_for() {
    let fixture = fixture();
    let source = Arc::new(Recording(Mutex::default(), Some("b16b16b")));
    let plan = plan(1, vec![phase("fetch", 1, POOL, asking(&fixture.log, &["b16b16b"]))]);
    let options = ExecOptions { uploads: source.clone(), ..ExecOptions::default() };
    let outcome = super::execute_on(&plan, &LocalTransport, options).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(*source.0.lock().unwrap(), [Some("b16b16b".to_owned()), Some("b16b16b".to_owned())]);
}
