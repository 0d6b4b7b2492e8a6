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
    Step { kind, title: title.to_owned(), timeout: 30, effect, script: Script::text(script) }
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
    Phase {
        name: name.to_owned(),
        description: name.to_owned(),
        scope: Scope::All,
        concurrency,
        work: (0..hosts).map(|host| HostWork { host, steps: steps(host) }).collect(),
        undo: Vec::new(),
        derives: None,
        cloud: Vec::new(),
        cloud_undo: Vec::new(),
        between_waves: None,
    }
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

/// A cloud that records every action and fails the ones whose description
/// contains `fail_on`.
struct FakeCloud {
    done: Mutex<Vec<String>>,
    fail_on: &'static str,
}

impl deployer_exec::Cloud for FakeCloud {
    async fn run(
        &self,
        action: &deployer_plan::CloudAction,
        state: &deployer_exec::CloudState,
    ) -> Result<deployer_exec::CloudDone, String> {
        let mut described = action.describe();
        if let deployer_plan::CloudAction::TerminateInstances { hosts } = action {
            let ids: Vec<&str> =
                hosts.iter().filter_map(|host| state.launched.get(host)).map(|i| i.id.as_str()).collect();
            described = format!("terminate {}", ids.join(" "));
        }
        self.done.lock().unwrap().push(described.clone());
        if !self.fail_on.is_empty() && described.contains(self.fail_on) {
            return Err("the API said no".to_owned());
        }
        let launched = match action {
            deployer_plan::CloudAction::LaunchInstances { hosts, .. } => hosts
                .iter()
                .map(|host| deployer_exec::LaunchedInstance {
                    id: format!("i-{host}"),
                    address: format!("address-{host}"),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(deployer_exec::CloudDone { note: "done".to_owned(), launched, made: Vec::new() })
    }
}

/// The local transport, recording the address each connect and run was given.
#[derive(Default)]
struct Addresses {
    seen: Mutex<Vec<(usize, String)>>,
}

impl Transport for Addresses {
    async fn connect(&self, index: usize, host: &PlanHost) -> Result<Connected, TransportError> {
        self.seen.lock().unwrap().push((index, host.host.clone()));
        Ok(Connected::default())
    }
    async fn disconnect(&self, _index: usize) {}
    async fn run(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        self.seen.lock().unwrap().push((index, host.host.clone()));
        LocalTransport.run(index, host, script, sink).await
    }
    async fn close(&self) {}
}

#[tokio::test]
async fn launched_servers_are_reached_at_their_address_and_terminated_by_the_undo() {
    let cloud = FakeCloud { done: Mutex::default(), fail_on: "" };
    let fixture = fixture();
    let spec = deployer_plan::LaunchSpec {
        role: "web".to_owned(),
        image: "ami-0abc1234".to_owned(),
        instance_type: "t3.micro".to_owned(),
        zone: None,
        subnet: None,
        security_groups: Vec::new(),
        key_name: None,
        volume: None,
        tags: Vec::new(),
        running_timeout: 10,
        client_token: "token".to_owned(),
    };
    let slots = vec![1, 2];
    let mut plan = plan(
        3,
        vec![
            cloud_phase(
                "launch",
                deployer_plan::CloudAction::LaunchInstances { hosts: slots.clone(), spec: Box::new(spec) },
                Some(deployer_plan::CloudAction::TerminateInstances { hosts: slots.clone() }),
            ),
            cloud_phase("reach", deployer_plan::CloudAction::WaitForSsh { hosts: slots.clone(), timeout: 5 }, None),
            phase("work", 3, Concurrency::Pool { size: 3 }, logged(&fixture.log, "work", "")),
            phase("fails", 1, Concurrency::Pool { size: 1 }, logged(&fixture.log, "fails", "exit 1")),
        ],
    );
    for &slot in &slots {
        plan.hosts[slot].launch = Some(deployer_config::LaunchSlot {
            role: "web".to_owned(),
            number: u32::try_from(slot).unwrap(),
            zone: None,
            subnet: None,
            by_group: false,
        });
    }
    let transport = Addresses::default();
    let recorder = Recorder::default();
    let secrets = BTreeMap::new();
    let outcome = Executor {
        plan: &plan,
        transport: &transport,
        cloud: &cloud,
        reporter: &recorder,
        secrets: &secrets,
        options: ExecOptions::default(),
        cancel: CancellationToken::new(),
    }
    .run()
    .await;
    assert_eq!(outcome.status, RunStatus::Failed, "{:?}", outcome.failures);
    let seen = transport.seen.lock().unwrap().clone();
    assert_eq!(seen[0], (0, "h0".to_owned()), "the existing host is connected first, the slots only once launched");
    for slot in slots {
        let addresses: std::collections::BTreeSet<&str> =
            seen.iter().filter(|(index, _)| *index == slot).map(|(_, host)| host.as_str()).collect();
        assert_eq!(addresses, [format!("address-{slot}").as_str()].into(), "{seen:?}");
    }
    assert_eq!(outcome.launched.len(), 2);
    assert_eq!(outcome.launched["h1"].id, "i-1");
    let done = cloud.done.lock().unwrap().clone();
    assert_eq!(done.last().map(String::as_str), Some("terminate i-1 i-2"), "{done:?}");
}

fn cloud_phase(name: &str, action: deployer_plan::CloudAction, undo: Option<deployer_plan::CloudAction>) -> Phase {
    Phase {
        name: name.to_owned(),
        description: name.to_owned(),
        scope: Scope::Controller,
        concurrency: Concurrency::Pool { size: 1 },
        work: Vec::new(),
        undo: Vec::new(),
        derives: None,
        cloud: vec![deployer_plan::CloudStep { title: name.to_owned(), action }],
        cloud_undo: undo
            .into_iter()
            .map(|action| deployer_plan::CloudStep { title: format!("undo {name}"), action })
            .collect(),
        between_waves: None,
    }
}

async fn execute_with_cloud(plan: &Plan, cloud: &FakeCloud) -> deployer_exec::Outcome {
    let recorder = Recorder::default();
    let secrets = BTreeMap::new();
    Executor {
        plan,
        transport: &LocalTransport,
        cloud,
        reporter: &recorder,
        secrets: &secrets,
        options: ExecOptions::default(),
        cancel: CancellationToken::new(),
    }
    .run()
    .await
}

fn processes(suspend: bool) -> deployer_plan::CloudAction {
    let (group, processes) = ("ag".to_owned(), vec![deployer_plan::ScalingProcess::AzRebalance]);
    if suspend {
        deployer_plan::CloudAction::SuspendProcesses { group, processes }
    } else {
        deployer_plan::CloudAction::ResumeProcesses { group, processes }
    }
}

#[tokio::test]
async fn a_plan_of_cloud_steps_only_connects_to_nothing_and_runs_them() {
    let cloud = FakeCloud { done: Mutex::default(), fail_on: "" };
    let plan = plan(0, vec![cloud_phase("suspend", processes(true), None)]);
    let outcome = execute_with_cloud(&plan, &cloud).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(*cloud.done.lock().unwrap(), ["suspend AZRebalance of auto scaling group `ag`"]);
}

#[tokio::test]
async fn a_failing_cloud_step_fails_the_run_and_names_this_machine() {
    let cloud = FakeCloud { done: Mutex::default(), fail_on: "suspend" };
    let fixture = fixture();
    let plan = plan(
        1,
        vec![
            cloud_phase("suspend", processes(true), None),
            phase("after", 1, Concurrency::Pool { size: 1 }, logged(&fixture.log, "after", "")),
        ],
    );
    let outcome = execute_with_cloud(&plan, &cloud).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.failures[0].host, "(this machine)");
    assert_eq!(outcome.failures[0].error, "the API said no");
    assert!(log_lines(&fixture).is_empty(), "no later phase ran");
}

#[tokio::test]
async fn a_later_failure_undoes_the_cloud_steps_that_ran() {
    let cloud = FakeCloud { done: Mutex::default(), fail_on: "" };
    let fixture = fixture();
    let plan = plan(
        1,
        vec![
            cloud_phase("suspend", processes(true), Some(processes(false))),
            phase("fails", 1, Concurrency::Pool { size: 1 }, logged(&fixture.log, "fails", "exit 1")),
        ],
    );
    let outcome = execute_with_cloud(&plan, &cloud).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        *cloud.done.lock().unwrap(),
        ["suspend AZRebalance of auto scaling group `ag`", "resume AZRebalance of auto scaling group `ag`"],
        "the suspension was undone"
    );
}

/// The local transport, counting open connections and refusing to run a script
/// on a host that is not connected.
#[derive(Default)]
struct Counting {
    open: Mutex<std::collections::BTreeSet<usize>>,
    peak: std::sync::atomic::AtomicUsize,
    connects: std::sync::atomic::AtomicUsize,
}

impl Transport for Counting {
    async fn connect(&self, index: usize, _host: &PlanHost) -> Result<Connected, TransportError> {
        let mut open = self.open.lock().unwrap();
        assert!(open.insert(index), "host {index} connected twice");
        self.peak.fetch_max(open.len(), std::sync::atomic::Ordering::SeqCst);
        self.connects.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Connected::default())
    }
    async fn disconnect(&self, index: usize) {
        assert!(self.open.lock().unwrap().remove(&index), "host {index} closed while not connected");
    }
    async fn run(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        if !self.open.lock().unwrap().contains(&index) {
            return Err(TransportError::Other(format!("host {index} is not connected")));
        }
        LocalTransport.run(index, host, script, sink).await
    }
    async fn close(&self) {
        self.open.lock().unwrap().clear();
    }
}

#[tokio::test]
async fn max_connections_bounds_open_connections_and_every_host_still_works_in_every_phase() {
    let fixture = fixture();
    let plan = plan(
        10,
        vec![
            phase("one", 10, POOL, logged(&fixture.log, "one", "")),
            phase("two", 10, POOL, logged(&fixture.log, "two", "")),
            phase("three", 10, Concurrency::Pool { size: 2 }, logged(&fixture.log, "three", "")),
        ],
    );
    let transport = Counting::default();
    let options = ExecOptions { max_connections: Some(3), ..ExecOptions::default() };
    let outcome = execute_on(&plan, &transport, options).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(log_lines(&fixture).len(), 30, "every host ran every phase");
    assert_eq!(transport.peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    let connects = transport.connects.load(std::sync::atomic::Ordering::SeqCst);
    // Hosts beyond the budget reconnect for each phase; the ones still open do not.
    assert!(connects > 10 && connects < 40, "{connects} connects");
    assert_eq!(outcome.connections_opened, connects);
}

#[tokio::test]
async fn without_a_budget_each_host_connects_once() {
    let fixture = fixture();
    let plan = plan(
        6,
        vec![
            phase("one", 6, POOL, logged(&fixture.log, "one", "")),
            phase("two", 6, POOL, logged(&fixture.log, "two", "")),
        ],
    );
    let transport = Counting::default();
    let outcome = execute_on(&plan, &transport, ExecOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(transport.connects.load(std::sync::atomic::Ordering::SeqCst), 6);
    assert_eq!(transport.peak.load(std::sync::atomic::Ordering::SeqCst), 6);
}
