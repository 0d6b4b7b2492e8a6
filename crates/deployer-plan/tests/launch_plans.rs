//! `create_environment` with tag discovery: the servers a role is missing are
//! launched first (their slots become hosts once they run), reached over ssh,
//! set up and deployed like the others, and retagged last; the launch's undo
//! terminates exactly what it launched.

mod support;

use camino::Utf8Path;
use deployer_config::{
    DiscoveryRequest, HostString, RoleDiscovery, Selection, TagRequest, TargetHost, parse_config, select_hosts,
};
use deployer_plan::{CloudAction, CommandSpec, Plan, PlanError, PlanInput, Revision, Scope, Sources, compile};

const CONFIG: &str = "project: myproject\nrepo: /srv/git/myproject.git\nvalid_roles: [web, worker]\n\
roles: {web: {restart: sudo systemctl restart myproject}, worker: {setup: [mkdir -p /srv/queue]}}\n\
branches: {testing: main}\nenvironments: [testing]\nregion: us-east-1\nec2_attr_for_ssh: private_ip_address\n";

const LAUNCH: &str = "aws: {discover: tags, servers: {web: 2, worker: 1}, key_name: myproject-deploy}\n\
instance_settings: {ami: ami-0abc1234, ebs_encrypt: true}\n\
instance_types: {testing: {web: t3.small, worker: t3.large}}\n\
security_groups: {web: [sg-0abc1234], worker: [myproject-worker]}\n\
volume_sizes: {worker: 50}\nvolume_types: gp3\navail_zones: [a, b]\n\
subnets: {a: subnet-0aaa1111, b: subnet-0bbb2222}\n";

/// EC2 already runs one web server.
struct OneWebServer;

impl RoleDiscovery for OneWebServer {
    fn discover(&mut self, _request: &DiscoveryRequest<'_>) -> Result<String, String> {
        Ok(String::new())
    }

    fn discover_tagged(&mut self, request: &TagRequest<'_>) -> Result<Vec<HostString>, String> {
        Ok(if request.role == "web" { vec!["10.0.1.4".parse().unwrap()] } else { Vec::new() })
    }
}

fn hosts(config: &deployer_config::Config, launch_missing: bool) -> Vec<TargetHost> {
    let selection = Selection { dedupe: true, launch_missing, ..Selection::default() };
    select_hosts(config, "testing", &selection, &mut OneWebServer).unwrap()
}

fn plan_with(extra: &str, command: CommandSpec) -> Result<Plan, PlanError> {
    let config = parse_config(Utf8Path::new("fabulaws-config.yml"), &format!("{CONFIG}{extra}"), &[]).unwrap();
    let hosts = hosts(&config, true);
    compile(&PlanInput {
        config: &config,
        deployment: "myproject",
        environment: "testing",
        command,
        hosts: &hosts,
        revision: Some(Revision { branch: Some("main".to_owned()), commit: support::COMMIT.to_owned() }),
        invocation: support::invocation(),
        sources: &Sources::new(),
        shipping: None,
    })
}

#[test]
fn missing_servers_become_launch_slots_spread_over_the_zones() {
    let config = parse_config(Utf8Path::new("f.yml"), &format!("{CONFIG}{LAUNCH}"), &[]).unwrap();
    let targets = hosts(&config, true);
    let slots: Vec<(&str, Option<&str>, Option<&str>)> = targets
        .iter()
        .filter_map(|host| {
            host.launch.as_ref().map(|slot| (host.host.as_str(), slot.zone.as_deref(), slot.subnet.as_deref()))
        })
        .collect();
    // The running web server is in the first zone's place: the new one goes to the next.
    assert_eq!(
        slots,
        [("new-web-1", Some("b"), Some("subnet-0bbb2222")), ("new-worker-1", Some("a"), Some("subnet-0aaa1111"))]
    );
    assert!(hosts(&config, false).iter().all(|host| host.launch.is_none()), "only create_environment launches");
}

#[test]
fn create_environment_launches_reaches_deploys_and_retags() {
    let plan = plan_with(LAUNCH, CommandSpec::CreateEnvironment).unwrap();
    insta::assert_snapshot!("create_environment_launch_text", plan.to_text());
    let names: Vec<&str> = plan.phases.iter().map(|phase| phase.name.as_str()).collect();
    assert_eq!(names[..3], ["launch", "reach", "check"]);
    assert_eq!(names.last(), Some(&"retag"));
    let launch = &plan.phases[0];
    assert_eq!(launch.scope, Scope::Controller);
    assert!(
        matches!(&launch.cloud_undo[0].action, CloudAction::TerminateInstances { hosts } if *hosts == [1, 2]),
        "{:?}",
        launch.cloud_undo
    );
    let CloudAction::LaunchInstances { spec, .. } = &launch.cloud[1].action else { panic!("a launch") };
    assert_eq!(spec.instance_type, "t3.large");
    assert_eq!(spec.security_groups, ["myproject-worker"]);
    let volume = spec.volume.as_ref().expect("the worker has a data volume");
    assert_eq!((volume.gigabytes, volume.kind.as_deref(), volume.encrypted), (50, Some("gp3"), true));
    assert!(spec.tags.contains(&("role".to_owned(), "worker-PENDING".to_owned())));
    // The new servers work in every host phase, like the running one.
    let check = &plan.phases[2];
    assert_eq!(check.work.len(), 3);
}

#[test]
fn what_a_launch_needs_is_asked_for_before_anything_runs() {
    let no_image = LAUNCH.replace("ami: ami-0abc1234, ", "");
    let error = plan_with(&no_image, CommandSpec::CreateEnvironment).unwrap_err().to_string();
    assert!(error.contains("an image: set `instance_settings.ami`"), "{error}");
    let no_type = LAUNCH.replace("worker: t3.large", "");
    let error = plan_with(&no_type, CommandSpec::CreateEnvironment).unwrap_err().to_string();
    assert!(error.contains("launches `worker` servers in `testing`, which needs an instance type"), "{error}");
    // An emulator without a subnet would hand out addresses that may be anyone's.
    let emulator = LAUNCH
        .replace("aws: {", "aws: {endpoint_url: \"http://127.0.0.1:5000\", ")
        .replace("avail_zones: [a, b]\nsubnets: {a: subnet-0aaa1111, b: subnet-0bbb2222}\n", "");
    let error = plan_with(&emulator, CommandSpec::CreateEnvironment).unwrap_err().to_string();
    assert!(error.contains("needs a subnet when `aws.endpoint_url` names an emulator"), "{error}");
    let error = plan_with(LAUNCH, CommandSpec::DeployFull).unwrap_err().to_string();
    assert_eq!(error, "only create_environment launches servers, not `deploy_full`");
}
