//! The executor's scheduling and failure semantics, on real `sh` processes through
//! the local transport (and a wrapper that makes chosen hosts unreachable).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use deployer_config::Connection;
use deployer_exec::{
    Connected, Event, ExecOptions, Executor, HostResult, LocalTransport, OutputSink, Reporter, RunStatus, Transport,
    TransportError,
};
use deployer_plan::protocol::captured::{Captured, Derivation};
use deployer_plan::{Concurrency, Effect, HostWork, Phase, Plan, PlanHost, Scope, Script, Step, StepKind};
use tokio_util::sync::CancellationToken;

mod cloud;
mod connections;
mod leads;
mod uploads;

struct Fixture {
    _directory: tempfile::TempDir,
    log: PathBuf,
}

fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let log = directory.path().join("log");
    std::fs::write(&log, "").unwrap();
    Fixture { _directory: directory, log }
}

/// A step whose effect is the one the planner gives steps of its kind.
fn step(kind: StepKind, title: &str, script: &str) -> Step {
    let effect = match kind {
        StepKind::Lock => Effect::TakesLock,
        StepKind::Unlock => Effect::ReleasesLock,
        StepKind::Switch => Effect::SwitchesCurrent,
        StepKind::SwitchBack => Effect::RestoresCurrent,
        _ => Effect::None,
    };
    Step { kind, title: title.to_owned(), timeout: 30, effect, script: Script::text(script), upload: None }
}

/// A step that appends `<phase> <host>` to the shared log, then runs `extra`.
fn logged(log: &Path, phase: &str, extra: &str) -> impl Fn(usize) -> Vec<Step> {
    let log = log.display().to_string();
    let phase = phase.to_owned();
    let extra = extra.to_owned();
    move |host| {
        vec![step(
            StepKind::Command,
            &phase,
            &format!("echo '{phase} {host}' >> '{log}'\n{}", extra.replace("HOST", &host.to_string())),
        )]
    }
}

fn phase(name: &str, hosts: usize, concurrency: Concurrency, steps: impl Fn(usize) -> Vec<Step>) -> Phase {
    let work = (0..hosts).map(|host| HostWork { host, steps: steps(host) }).collect();
    Phase::new(name, name, Scope::All, concurrency, work)
}

fn plan(hosts: usize, phases: Vec<Phase>) -> Plan {
    Plan {
        command: "test".to_owned(),
        project: "p".to_owned(),
        deployment: "p".to_owned(),
        environment: "e".to_owned(),
        deploy_id: "id".to_owned(),
        revision: None,
        release_id: None,
        deploy_root: "/tmp".to_owned(),
        confirmation: None,
        shipping: None,
        hosts: (0..hosts)
            .map(|index| PlanHost {
                name: format!("h{index}"),
                host: format!("h{index}"),
                user: None,
                port: None,
                roles: vec!["web".to_owned()],
                connection: Connection::Local,
                gateway: None,
                launch: None,
            })
            .collect(),
        phases,
        follow_ups: Vec::new(),
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

/// The local transport, with some hosts unreachable.
struct Flaky {
    down: Vec<usize>,
}

impl Transport for Flaky {
    async fn connect(&self, index: usize, _host: &PlanHost) -> Result<Connected, TransportError> {
        if self.down.contains(&index) {
            Err(TransportError::Connect("connection refused".to_owned()))
        } else {
            Ok(Connected::default())
        }
    }
    async fn disconnect(&self, _index: usize) {}
    async fn run(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        LocalTransport.run(index, host, script, sink).await
    }
    async fn close(&self) {}
}

async fn execute(plan: &Plan, options: ExecOptions, down: Vec<usize>) -> (deployer_exec::Outcome, Vec<Event>) {
    let recorder = Recorder::default();
    let outcome = execute_reporting(plan, &Flaky { down }, options, &recorder).await;
    (outcome, recorder.0.into_inner().unwrap())
}

/// `plan` through `transport`, with no secrets and no cloud.
async fn execute_on(plan: &Plan, transport: &impl Transport, options: ExecOptions) -> deployer_exec::Outcome {
    execute_reporting(plan, transport, options, &deployer_exec::Silent).await
}

async fn execute_reporting(
    plan: &Plan,
    transport: &impl Transport,
    options: ExecOptions,
    reporter: &dyn Reporter,
) -> deployer_exec::Outcome {
    let secrets = BTreeMap::new();
    Executor {
        plan,
        transport,
        cloud: &deployer_exec::NoCloud,
        reporter,
        secrets: &secrets,
        options,
        cancel: CancellationToken::new(),
    }
    .run()
    .await
}

fn log_lines(fixture: &Fixture) -> Vec<String> {
    std::fs::read_to_string(&fixture.log).unwrap().lines().map(str::to_owned).collect()
}

const POOL: Concurrency = Concurrency::Pool { size: 8 };

#[tokio::test]
async fn phases_run_in_order_with_a_barrier_between_them() {
    let fixture = fixture();
    let plan = plan(
        4,
        vec![
            phase("one", 4, POOL, logged(&fixture.log, "one", "sleep 0.0HOST")),
            phase("two", 4, POOL, logged(&fixture.log, "two", "")),
        ],
    );
    let (outcome, events) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    let lines = log_lines(&fixture);
    let last_one = lines.iter().rposition(|line| line.starts_with("one")).unwrap();
    let first_two = lines.iter().position(|line| line.starts_with("two")).unwrap();
    assert!(last_one < first_two, "phase two started before phase one ended: {lines:?}");
    assert_eq!(lines.len(), 8);
    let finished = events.iter().filter(|event| matches!(event, Event::StepFinished { status: 0, .. })).count();
    assert_eq!(finished, 8, "each step reports its end");
}

#[tokio::test]
async fn fail_fast_stops_new_work_and_undoes_only_what_ran() {
    let fixture = fixture();
    let mut prepare =
        phase("prepare", 3, Concurrency::Pool { size: 1 }, logged(&fixture.log, "prepare", "[ HOST -ne 1 ]"));
    prepare.undo = (0..3).map(|host| HostWork { host, steps: logged(&fixture.log, "undo", "")(host) }).collect();
    let plan = plan(3, vec![prepare, phase("later", 3, POOL, logged(&fixture.log, "later", ""))]);
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(log_lines(&fixture), ["prepare 0", "prepare 1", "undo 0", "undo 1"]);
    assert_eq!(outcome.failures.len(), 1);
    assert_eq!(outcome.failures[0].host, "h1");
    assert_eq!(outcome.failures[0].error, "`prepare` exited with status 1");
    assert!(matches!(outcome.hosts[1].result, HostResult::Failed { .. }));
}

#[tokio::test]
async fn a_failure_after_the_switch_switches_back_and_says_so() {
    let fixture = fixture();
    let mut switch = phase("switch", 2, POOL, |host| {
        vec![step(StepKind::Switch, "switch", &format!("echo 'switch {host}' >> '{}'", fixture.log.display()))]
    });
    switch.undo = (0..2).map(|host| HostWork { host, steps: logged(&fixture.log, "switch-back", "")(host) }).collect();
    let plan = plan(2, vec![switch, phase("healthcheck", 2, POOL, logged(&fixture.log, "health", "[ HOST -ne 0 ]"))]);
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::RolledBack);
    let lines = log_lines(&fixture);
    assert!(lines.contains(&"switch-back 0".to_owned()) && lines.contains(&"switch-back 1".to_owned()), "{lines:?}");
}

#[tokio::test]
async fn a_failed_undo_makes_the_run_partial() {
    let fixture = fixture();
    let mut switch = phase("switch", 2, POOL, |_| vec![step(StepKind::Switch, "switch", "true")]);
    switch.undo = (0..2)
        .map(|host| HostWork {
            host,
            steps: vec![step(StepKind::SwitchBack, "switch back", if host == 1 { "false" } else { "true" })],
        })
        .collect();
    let plan = plan(2, vec![switch, phase("healthcheck", 2, POOL, logged(&fixture.log, "health", "false"))]);
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Partial);
    assert_eq!(outcome.undo_failures.len(), 1);
    assert_eq!(outcome.undo_failures[0].host, "h1");
}

#[tokio::test]
async fn warn_only_carries_on_but_reports_failure() {
    let fixture = fixture();
    let plan = plan(
        2,
        vec![
            phase("one", 2, POOL, logged(&fixture.log, "one", "[ HOST -ne 0 ]")),
            phase("two", 2, POOL, logged(&fixture.log, "two", "")),
        ],
    );
    let (outcome, _) = execute(&plan, ExecOptions { warn_only: true, ..ExecOptions::default() }, vec![]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let mut lines = log_lines(&fixture);
    lines.sort();
    assert_eq!(lines, ["one 0", "one 1", "two 0", "two 1"]);
}

#[tokio::test]
async fn a_held_lock_has_its_own_status() {
    let plan = plan(
        2,
        vec![phase("lock", 2, POOL, |host| {
            vec![step(StepKind::Lock, "lock", if host == 1 { "exit 75" } else { "true" })]
        })],
    );
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::LockHeld);
    assert_eq!(outcome.failures[0].error, "the environment is locked by another run");
}

#[tokio::test]
async fn unreachable_hosts_stop_the_run_unless_skipped() {
    let fixture = fixture();
    let plan = plan(3, vec![phase("one", 3, POOL, logged(&fixture.log, "one", ""))]);
    let (outcome, events) = execute(&plan, ExecOptions::default(), vec![1]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(log_lines(&fixture).is_empty(), "nothing ran");
    assert!(
        events.iter().any(|event| matches!(event, Event::HostUnreachable { host, skipped: false, .. } if host == "h1"))
    );

    let (outcome, _) = execute(&plan, ExecOptions { skip_bad_hosts: true, ..ExecOptions::default() }, vec![1]).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let mut lines = log_lines(&fixture);
    lines.sort();
    assert_eq!(lines, ["one 0", "one 2"]);
    assert!(matches!(outcome.hosts[1].result, HostResult::Unreachable { .. }));
}

#[tokio::test]
async fn batches_finish_one_at_a_time_and_a_failing_batch_stops_the_rest() {
    let fixture = fixture();
    let plan = plan(
        5,
        vec![phase(
            "rollout",
            5,
            Concurrency::Batches { size: 2 },
            logged(&fixture.log, "rollout", "sleep 0.05; echo 'end HOST' >> LOG; [ HOST -ne 2 ]"),
        )],
    );
    let mut plan = plan;
    for work in &mut plan.phases[0].work {
        let text = work.steps[0].script.to_string().replace("LOG", &format!("'{}'", fixture.log.display()));
        work.steps[0].script = Script::text(text);
    }
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let lines = log_lines(&fixture);
    let position = |text: &str| lines.iter().position(|line| line == text).unwrap_or(usize::MAX);
    assert!(position("end 0") < position("rollout 2") && position("end 1") < position("rollout 2"), "{lines:?}");
    assert_eq!(position("rollout 4"), usize::MAX, "the third batch must not start: {lines:?}");
}

#[tokio::test]
async fn derived_values_must_agree() {
    // Each host reports a history in which r0 was live before r9, and r9 is current.
    let report = |before: &str| {
        format!(
            "echo 'DEPLOYER-STATE current=r9'; echo 'DEPLOYER-STATE complete={before}'; echo 'DEPLOYER-STATE lock=free'\n\
             printf 'DEPLOYER-HISTORY v2\\tevent=deployed\\trelease=%s\\n' {before} r9\n"
        )
    };
    let mut choose =
        phase("choose", 2, POOL, |_host| vec![step(StepKind::ChooseRollbackTarget, "choose", &report("r0"))]);
    choose.derives = Some(Derivation::RollbackTarget { to: None });
    let mut use_it = phase("use", 2, POOL, |_| Vec::new());
    for work in &mut use_it.work {
        let mut script = Script::text("test ");
        script.push_variable(Captured::RollbackTarget);
        script.push_text(" = r0");
        work.steps = vec![step(StepKind::Command, "use", "")];
        work.steps[0].script = script;
    }
    let agreeing = plan(2, vec![choose.clone(), use_it]);
    let (outcome, _) = execute(&agreeing, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(outcome.captured[&Captured::RollbackTarget], "r0");
    assert_eq!(outcome.captured[&Captured::MigrationsSinceTarget], "unknown");

    let mut disagreeing = agreeing.clone();
    disagreeing.phases[0].work[1].steps[0].script = Script::text(report("r1"));
    let (outcome, _) = execute(&disagreeing, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.failures[0].error, "hosts disagree on the rollback target: r0 on h0; r1 on h1");
}

#[tokio::test]
async fn a_step_over_its_time_limit_is_stopped_on_the_host() {
    let mut slow = phase("slow", 1, POOL, |_| vec![step(StepKind::Command, "sleepy", "sleep 30")]);
    slow.work[0].steps[0].timeout = 1;
    let (outcome, _) = execute(&plan(1, vec![slow]), ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.failures[0].error, "`sleepy` ran out of time (1s) and was stopped on the host");
}

/// Cancels the run (as Ctrl-C does) when phase `one` ends.
struct CancelAfterPhaseOne(CancellationToken);

impl Reporter for CancelAfterPhaseOne {
    fn report(&self, event: Event) {
        if matches!(event, Event::PhaseFinished { ref phase, .. } if phase == "one") {
            self.0.cancel();
        }
    }
}

#[tokio::test]
async fn cancelling_stops_new_work_and_undoes() {
    let fixture = fixture();
    let mut one = phase("one", 2, POOL, logged(&fixture.log, "one", ""));
    one.undo = (0..2).map(|host| HostWork { host, steps: logged(&fixture.log, "undo", "")(host) }).collect();
    let plan = plan(2, vec![one, phase("two", 2, POOL, logged(&fixture.log, "two", ""))]);
    let cancel = CancellationToken::new();
    let secrets = BTreeMap::new();
    let outcome = Executor {
        plan: &plan,
        transport: &LocalTransport,
        cloud: &deployer_exec::NoCloud,
        reporter: &CancelAfterPhaseOne(cancel.clone()),
        secrets: &secrets,
        options: ExecOptions::default(),
        cancel,
    }
    .run()
    .await;
    assert_eq!(outcome.status, RunStatus::Interrupted);
    let mut lines = log_lines(&fixture);
    lines.sort();
    assert_eq!(lines, ["one 0", "one 1", "undo 0", "undo 1"]);
}

#[tokio::test]
async fn a_missing_secret_stops_the_run_before_any_host() {
    let fixture = fixture();
    let mut script = Script::text("echo ");
    script.push_secret("api_key");
    let plan = plan(
        1,
        vec![phase("one", 1, POOL, move |_| {
            vec![Step {
                kind: StepKind::Command,
                title: "s".to_owned(),
                timeout: 5,
                effect: Effect::None,
                script: script.clone(),
                upload: None,
            }]
        })],
    );
    let (outcome, events) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.refused.as_deref(), Some("secret `api_key` is not in the secrets file"));
    assert!(!events.iter().any(|event| matches!(event, Event::Connecting { .. })));
    assert!(log_lines(&fixture).is_empty());
}

#[tokio::test]
async fn halt_leaves_switched_hosts_and_says_which() {
    let fixture = fixture();
    let mut switch = phase("switch", 3, POOL, |_| vec![step(StepKind::Switch, "switch", "true")]);
    switch.undo = (0..3).map(|host| HostWork { host, steps: logged(&fixture.log, "switch-back", "")(host) }).collect();
    let mut lock = phase("lock", 3, POOL, |_| vec![step(StepKind::Lock, "lock", "true")]);
    lock.undo = (0..3).map(|host| HostWork { host, steps: logged(&fixture.log, "unlock", "")(host) }).collect();
    let plan =
        plan(3, vec![lock, switch, phase("healthcheck", 3, POOL, logged(&fixture.log, "health", "[ HOST -ne 2 ]"))]);
    let (outcome, _) = execute(&plan, ExecOptions { halt_on_failure: true, ..ExecOptions::default() }, vec![]).await;
    assert_eq!(outcome.status, RunStatus::Partial);
    assert_eq!(outcome.switched, ["h0", "h1", "h2"]);
    let lines = log_lines(&fixture);
    assert!(!lines.iter().any(|line| line.starts_with("switch-back")), "halt must not switch back: {lines:?}");
    assert_eq!(
        lines.iter().filter(|line| line.starts_with("unlock")).count(),
        3,
        "the lock is still released: {lines:?}"
    );
}

#[tokio::test]
async fn hosts_that_differ_only_on_migrations_are_named_not_refused() {
    // Both hosts had r0 then r9 live; only host 0 recorded migrations for r9.
    let report = |migrations: &str| {
        format!(
            "echo 'DEPLOYER-STATE current=r9'; echo 'DEPLOYER-STATE complete=r0'; echo 'DEPLOYER-STATE lock=free'\n\
             printf 'DEPLOYER-HISTORY v2\\tevent=deployed\\tmigrations=no\\trelease=r0\\n'\n\
             printf 'DEPLOYER-HISTORY v2\\tevent=deployed\\tmigrations={migrations}\\trelease=r9\\n'\n"
        )
    };
    let mut choose = phase("choose", 2, POOL, |host| {
        vec![step(StepKind::ChooseRollbackTarget, "choose", &report(if host == 0 { "yes" } else { "no" }))]
    });
    choose.derives = Some(Derivation::RollbackTarget { to: Some("r0".to_owned()) });
    let (outcome, events) = execute(&plan(2, vec![choose]), ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(outcome.captured[&Captured::MigrationsSinceTarget], "yes");
    let differ = events.iter().find_map(|event| match event {
        Event::HostsDiffer { name: Captured::MigrationsSinceTarget, values } => Some(values.clone()),
        _ => None,
    });
    let differ = differ.expect("the difference is reported");
    assert_eq!(differ["yes"], ["h0"]);
    assert_eq!(differ["no"], ["h1"]);
}
