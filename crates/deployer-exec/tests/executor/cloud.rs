//! Controller phases: cloud steps, their undo, and servers launched during a run.

use super::*;

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
    let mut phase = Phase::new(name, name, Scope::Controller, Concurrency::Pool { size: 1 }, Vec::new());
    phase.cloud = vec![deployer_plan::CloudStep { title: name.to_owned(), action }];
    phase.cloud_undo =
        undo.into_iter().map(|action| deployer_plan::CloudStep { title: format!("undo {name}"), action }).collect();
    phase
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
