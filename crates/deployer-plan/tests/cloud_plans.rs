//! Plans of cloud-only commands: controller phases, no host, typed cloud steps.

mod support;

use camino::Utf8Path;
use deployer_config::parse_config;
use deployer_plan::{CommandSpec, PlanError, PlanInput, ScalingProcess, Sources, compile};

const CONFIG: &str = "project: myproject\nrepo: /srv/git/myproject.git\nvalid_roles: [web]\n\
branches: {production: main, staging: main}\nenvironments: [production, staging]\n\
auto_scaling_groups: {myproject: {production: myproject-production-ag}}\n";

fn plan(environment: &str, command: CommandSpec) -> Result<deployer_plan::Plan, PlanError> {
    let config = parse_config(Utf8Path::new("fabulaws-config.yml"), CONFIG, &[]).unwrap();
    let sources = Sources::new();
    compile(&PlanInput {
        config: &config,
        deployment: "myproject",
        environment,
        command,
        hosts: &[],
        revision: None,
        invocation: support::invocation(),
        sources: &sources,
        shipping: None,
        group: None,
    })
}

#[test]
fn suspend_named_processes() {
    let spec = CommandSpec::SuspendProcesses { processes: vec![ScalingProcess::AzRebalance, ScalingProcess::Launch] };
    let plan = plan("production", spec).unwrap();
    insta::assert_snapshot!("suspend_text", plan.to_text());
    insta::assert_json_snapshot!("suspend_json", plan);
}

#[test]
fn resume_without_names_resumes_all_nine() {
    let plan = plan("production", CommandSpec::ResumeProcesses { processes: Vec::new() }).unwrap();
    let text = plan.to_text();
    assert!(text.contains("resume Launch, Terminate, AddToLoadBalancer, AlarmNotification, AZRebalance, HealthCheck, InstanceRefresh, ReplaceUnhealthy, ScheduledActions of auto scaling group `myproject-production-ag`"), "{text}");
}

#[test]
fn an_environment_without_a_group_is_refused() {
    let error = plan("staging", CommandSpec::SuspendProcesses { processes: Vec::new() }).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`suspend_autoscaling_processes` needs the auto scaling group of deployment `myproject` in environment `staging`: add it to `auto_scaling_groups`"
    );
}
