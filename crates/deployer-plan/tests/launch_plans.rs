//! `create_environment` with tag discovery: the servers a role is missing are
//! launched first (their slots become hosts once they run), reached over ssh,
//! set up and deployed like the others, and retagged last; the launch's undo
//! terminates exactly what it launched.

mod support;

use camino::Utf8Path;
use deployer_config::{
    DiscoveryRequest, HostString, RoleDiscovery, Selection, TagRequest, TargetHost, parse_config, select_hosts,
};
use deployer_plan::{
    CloudAction, CommandSpec, GroupMember, GroupSnapshot, Plan, PlanError, PlanInput, Revision, Scope, Sources,
    TemplateVersion, compile,
};

/// Compiles `command` for `testing` with these hosts, a revision when asked, these
/// sources and this group snapshot.
fn compile_in(
    config: &deployer_config::Config,
    command: CommandSpec,
    hosts: &[TargetHost],
    (revision, sources): (bool, &Sources),
    group: Option<GroupSnapshot>,
) -> Result<Plan, PlanError> {
    compile(&PlanInput {
        config,
        deployment: "myproject",
        environment: "testing",
        command,
        hosts,
        revision: revision.then(|| Revision { branch: Some("main".to_owned()), commit: support::COMMIT.to_owned() }),
        invocation: support::invocation(),
        sources,
        shipping: None,
        group,
    })
}

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
    compile_in(&config, command, &hosts, (true, &Sources::new()), None)
}

const GROUP: &str = "auto_scaling_groups: {testing: myproject-testing-ag}\n";

fn group(template: bool) -> GroupSnapshot {
    GroupSnapshot {
        name: "myproject-testing-ag".to_owned(),
        min: 2,
        desired: 2,
        max: 4,
        template: template.then(|| TemplateVersion {
            id: "lt-0abc1234".to_owned(),
            name: "myproject-testing-web".to_owned(),
            version: 7,
            image: Some("ami-0def5678".to_owned()),
            description: Some("deployer release 20261120T000000Z-1111111".to_owned()),
        }),
        launch_configuration: (!template).then(|| "myproject-testing-lc".to_owned()),
        instances: ["i-0bbb2222", "i-0aaa1111"]
            .map(|id| GroupMember {
                id: id.to_owned(),
                lifecycle: "InService".to_owned(),
                health: "Healthy".to_owned(),
            })
            .to_vec(),
        tags: Vec::new(),
        deploy: None,
        suspended: Vec::new(),
        target_groups: vec!["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0abc".to_owned()],
        load_balancers: Vec::new(),
        busy: Vec::new(),
        versions: [(7, "ami-0def5678", "20261120T000000Z-1111111"), (6, "ami-0ccc3333", "20261110T000000Z-2222222")]
            .map(|(version, image, release)| TemplateVersion {
                id: "lt-0abc1234".to_owned(),
                name: "myproject-testing-web".to_owned(),
                version,
                image: Some(image.to_owned()),
                description: Some(format!("deployer release {release}")),
            })
            .to_vec(),
    }
}

fn image_plan(group: Option<GroupSnapshot>) -> Result<Plan, PlanError> {
    let text = format!("{CONFIG}{LAUNCH}{GROUP}migrate: {{role: worker, command: ./manage.py migrate}}\n");
    let config = parse_config(Utf8Path::new("fabulaws-config.yml"), &text, &[]).unwrap();
    let hosts = vec![deployer_config::builder_host(&config, "testing", "web").unwrap()];
    compile_in(&config, CommandSpec::CreateImage, &hosts, (true, &Sources::new()), group)
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
    assert_eq!(names[..3], ["launch", "reach", "lock+check+layout+setup+prepare"]);
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
    assert_eq!(error, "only create_environment and create_image launch servers, not `deploy_full`");
}

#[test]
fn create_image_builds_on_one_builder_then_makes_the_image_and_a_template_version() {
    let plan = image_plan(Some(group(true))).unwrap();
    insta::assert_snapshot!("create_image_text", plan.to_text());
    let names: Vec<&str> = plan.phases.iter().map(|phase| phase.name.as_str()).collect();
    assert!(!names.contains(&"migrate"), "a builder never migrates: {names:?}");
    assert_eq!(names[names.len() - 3..], ["image", "template", "cleanup"]);
    let template = &plan.phases[names.len() - 2];
    assert!(
        matches!(&template.cloud[0].action, CloudAction::CreateTemplateVersion { template, source_version: 7, .. } if template == "lt-0abc1234")
    );
    assert!(matches!(template.cloud_undo[0].action, CloudAction::DeleteTemplateVersion { .. }));
}

#[test]
fn create_image_refuses_a_group_on_a_launch_configuration() {
    let error = image_plan(Some(group(false))).unwrap_err().to_string();
    assert!(error.contains("launches from launch configuration `myproject-testing-lc`"), "{error}");
    assert!(error.contains("move the group to a launch template"), "{error}");
    let error = image_plan(None).unwrap_err().to_string();
    assert!(error.contains("needs auto scaling group `myproject-testing-ag` as AWS describes it"), "{error}");
}

/// EC2 runs the group's two web servers and a worker.
struct GroupAndWorker;

impl RoleDiscovery for GroupAndWorker {
    fn discover(&mut self, _request: &DiscoveryRequest<'_>) -> Result<String, String> {
        Ok(String::new())
    }

    fn discover_tagged(&mut self, request: &TagRequest<'_>) -> Result<Vec<HostString>, String> {
        Ok(match request.role {
            "web" => vec!["10.0.1.4".parse().unwrap(), "10.0.1.5".parse().unwrap()],
            _ => vec!["10.0.2.4".parse().unwrap()],
        })
    }
}

fn group_deploy_plan(group: GroupSnapshot) -> Result<Plan, PlanError> {
    group_plan(group, CommandSpec::DeployFull)
}

fn group_plan(group: GroupSnapshot, command: CommandSpec) -> Result<Plan, PlanError> {
    group_plan_in(LAUNCH, group, command)
}

/// [`group_plan`] with `launch` instead of [`LAUNCH`].
fn group_plan_in(launch: &str, group: GroupSnapshot, command: CommandSpec) -> Result<Plan, PlanError> {
    let text = format!(
        "{CONFIG}{launch}{GROUP}migrate: {{role: worker, command: ./manage.py migrate}}\n\
         static_html: {{upgrade_message: 503.html, healthcheck_override: healthcheck.html}}\n"
    );
    let config = parse_config(Utf8Path::new("fabulaws-config.yml"), &text, &[]).unwrap();
    let selection = Selection { dedupe: true, ..Selection::default() };
    let mut hosts = select_hosts(&config, "testing", &selection, &mut GroupAndWorker).unwrap();
    if !matches!(command, CommandSpec::Rollback { .. }) {
        hosts.push(deployer_config::builder_host(&config, "testing", "web").unwrap());
    }
    hosts.extend(deployer_config::group_slots(&config, "testing", "web", group.desired).unwrap());
    let mut sources = Sources::new();
    sources.insert("503.html".into(), "down\n".to_owned());
    sources.insert("healthcheck.html".into(), "OK\n".to_owned());
    compile_in(&config, command, &hosts, (true, &sources), Some(group))
}

#[test]
fn deploy_full_on_a_group_builds_doubles_verifies_cuts_over_and_culls() {
    let plan = group_deploy_plan(group(true)).unwrap();
    let names: Vec<&str> = plan.phases.iter().map(|phase| phase.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "launch",
            "reach",
            "check+layout",
            "lock",
            "prepare",
            "build_image",
            "verify_builder",
            "finish",
            "image",
            "template",
            "cleanup",
            "mark",
            "suspend",
            "scale_out",
            "reach",
            "verify",
            "maintenance_on",
            "migrate",
            "switch",
            "traffic",
            "cull",
            "maintenance_off",
            "finish",
            "resume"
        ]
    );
    let on = |name: &str| -> Vec<&str> {
        let phase = plan.phases.iter().rfind(|phase| phase.name == name).unwrap();
        phase.work.iter().map(|work| plan.hosts[work.host].name.as_str()).collect()
    };
    assert_eq!(on("prepare"), ["10.0.2.4", "builder-web"], "the servers outside the group and the builder");
    assert_eq!(on("verify"), ["new-web-1", "new-web-2"]);
    assert_eq!(on("maintenance_on"), ["10.0.1.4", "10.0.1.5", "new-web-1", "new-web-2"]);
    assert_eq!(on("migrate"), ["10.0.2.4"]);
    assert_eq!(on("maintenance_off"), ["new-web-1", "new-web-2"]);
    let text = plan.to_text();
    assert!(
        text.contains(
            "terminate the 2 old instance(s) of auto scaling group `myproject-testing-ag` (i-0aaa1111, i-0bbb2222)"
        ),
        "{text}"
    );
    assert!(text.contains("min 4, desired 4, max 4"), "{text}");
    insta::assert_snapshot!("deploy_full_group_text", text);
}

#[test]
fn deploy_full_on_a_group_refuses_one_another_deploy_left_marked() {
    let mut marked = group(true);
    marked.deploy = Some(mark(vec!["i-0aaa1111".to_owned()]));
    let error = group_deploy_plan(marked).unwrap_err().to_string();
    assert!(error.contains("is marked by deploy 20261122T000000Z-1, which did not finish"), "{error}");
    let mut classic = group(true);
    classic.load_balancers.push("myproject-testing-elb".to_owned());
    let error = group_deploy_plan(classic).unwrap_err().to_string();
    assert!(error.contains("classic load balancers (myproject-testing-elb)"), "{error}");
    let mut busy = group(true);
    busy.instances[0].lifecycle = "Pending".to_owned();
    let error = group_deploy_plan(busy).unwrap_err().to_string();
    assert!(error.contains("instance i-0bbb2222 of auto scaling group `myproject-testing-ag` is Pending"), "{error}");
    let mut refreshing = group(true);
    refreshing.busy.push("instance refresh 0a1b is InProgress (40% done)".to_owned());
    let error = group_deploy_plan(refreshing).unwrap_err().to_string();
    assert!(
        error.contains("auto scaling group `myproject-testing-ag` is changing: instance refresh 0a1b is InProgress"),
        "{error}"
    );
}

#[test]
fn deploy_serial_with_refresh_lets_aws_replace_the_group_then_checks_it_over_ssh() {
    let launch = LAUNCH.replace("aws: {", "aws: {deploy_serial: refresh, ");
    let command = || CommandSpec::DeploySerial { batch_size: Some(1), waves: None };
    let plan = group_plan_in(&launch, group(true), command()).unwrap();
    let names: Vec<&str> = plan.phases.iter().map(|phase| phase.name.as_str()).collect();
    let tail = &names[names.iter().position(|name| *name == "cleanup").unwrap()..];
    assert_eq!(
        tail,
        ["cleanup", "migrate", "switch", "refresh", "reach", "verify", "finish"],
        "no marks and no suspension: the refresh is AWS's own record, and it needs the processes"
    );
    let refresh = plan.phases.iter().find(|phase| phase.name == "refresh").unwrap();
    assert!(
        matches!(&refresh.cloud[0].action, CloudAction::RefreshInstances { max_healthy: 150, hosts, .. } if hosts.len() == 2),
        "{:?}",
        refresh.cloud
    );
    assert!(
        matches!(&refresh.cloud_undo[0].action, CloudAction::RefreshBack { version: 7, image: Some(image), .. } if image == "ami-0def5678"),
        "{:?}",
        refresh.cloud_undo
    );
    insta::assert_snapshot!(plan.to_text());
    let mut suspended = group(true);
    suspended.suspended.push(deployer_plan::ScalingProcess::Launch);
    let error = group_plan_in(&launch, suspended, command()).unwrap_err().to_string();
    assert!(error.contains("has Launch suspended, which an instance refresh needs"), "{error}");
}

fn mark(retiring: Vec<String>) -> deployer_plan::DeployMark {
    deployer_plan::DeployMark {
        deploy_id: "20261122T000000Z-1".to_owned(),
        restore: deployer_plan::Capacity { min: 1, desired: 2, max: 3 },
        version: 6,
        suspends: vec![deployer_plan::ScalingProcess::AddToLoadBalancer],
        retiring,
    }
}

fn recover_plan(group: GroupSnapshot) -> Result<Plan, PlanError> {
    let config = parse_config(Utf8Path::new("fabulaws-config.yml"), &format!("{CONFIG}{LAUNCH}{GROUP}"), &[]).unwrap();
    compile_in(&config, CommandSpec::Recover, &[], (false, &Sources::new()), Some(group))
}

#[test]
fn recover_undoes_a_deploy_that_never_culled_and_finishes_one_that_did() {
    // Both old instances still in the group: undo.
    let mut before_cull = group(true);
    before_cull.deploy = Some(mark(vec!["i-0aaa1111".to_owned(), "i-0bbb2222".to_owned()]));
    before_cull.instances.push(GroupMember {
        id: "i-0ccc3333".to_owned(),
        lifecycle: "InService".to_owned(),
        health: "Healthy".to_owned(),
    });
    let plan = recover_plan(before_cull).unwrap();
    assert!(plan.hosts.is_empty(), "no host is contacted");
    let text = plan.to_text();
    insta::assert_snapshot!("recover_undo_text", text);
    assert!(text.contains("undo deploy 20261122T000000Z-1"), "{text}");
    assert!(
        matches!(&plan.phases[0].cloud[0].action, CloudAction::ScaleBack { version: 6, keep, .. } if keep.len() == 2),
        "{:?}",
        plan.phases[0].cloud
    );
    // One old instance already culled: finish.
    let mut during_cull = group(true);
    during_cull.deploy = Some(mark(vec!["i-0bbb2222".to_owned()]));
    during_cull.instances.retain(|member| member.id != "i-0aaa1111");
    let plan = recover_plan(during_cull).unwrap();
    let text = plan.to_text();
    assert!(text.contains("finish deploy 20261122T000000Z-1"), "{text}");
    assert!(
        matches!(&plan.phases[0].cloud[0].action, CloudAction::Cull { instances, .. } if *instances == ["i-0bbb2222"])
    );
    // Nothing marked: nothing to do, said so.
    let error = recover_plan(group(true)).unwrap_err().to_string();
    assert!(error.contains("carries no deploy's mark: there is nothing to recover"), "{error}");
}

#[test]
fn deploy_serial_on_a_group_replaces_it_batch_by_batch_after_the_migrations() {
    let mut four = group(true);
    four.min = 4;
    four.desired = 4;
    four.max = 8;
    for id in ["i-0ccc3333", "i-0ddd4444"] {
        four.instances.push(GroupMember {
            id: id.to_owned(),
            lifecycle: "InService".to_owned(),
            health: "Healthy".to_owned(),
        });
    }
    let plan = group_plan(four, CommandSpec::DeploySerial { batch_size: Some(3), waves: None }).unwrap();
    let names: Vec<&str> = plan.phases.iter().map(|phase| phase.name.as_str()).collect();
    let tail = &names[names.iter().position(|name| *name == "cleanup").unwrap()..];
    assert_eq!(
        tail,
        [
            "cleanup",
            "migrate",
            "switch",
            "mark",
            "suspend",
            "scale_out_1",
            "reach_1",
            "verify_1",
            "traffic_1",
            "cull_1",
            "scale_out_2",
            "reach_2",
            "verify_2",
            "traffic_2",
            "cull_2",
            "finish",
            "resume"
        ],
        "the migrations run while the old web servers serve; then batches of 3 and 1"
    );
    let text = plan.to_text();
    assert!(text.contains("min 4, desired 7, max 8"), "{text}");
    assert!(text.contains("min 4, desired 5, max 8"), "{text}");
    assert!(
        text.contains("terminate the 1 old instance(s) of auto scaling group `myproject-testing-ag` (i-0ddd4444)"),
        "{text}"
    );
}

#[test]
fn rollback_on_a_group_goes_back_to_the_previous_image_and_takes_the_servers_outside_along() {
    let plan = group_plan(group(true), CommandSpec::Rollback { to: None }).unwrap();
    let names: Vec<&str> = plan.phases.iter().map(|phase| phase.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "lock",
            "mark",
            "suspend",
            "scale_out",
            "reach",
            "verify",
            "choose",
            "switch",
            "traffic",
            "cull",
            "finish",
            "resume"
        ]
    );
    let text = plan.to_text();
    assert!(text.contains("point auto scaling group `myproject-testing-ag` at version 6 of lt-0abc1234"), "{text}");
    assert!(text.contains("are in service on ami-0ccc3333"), "{text}");
    assert!(text.contains("20261110T000000Z-2222222"), "the servers outside go to the same release: {text}");
    let error = group_plan(group(true), CommandSpec::Rollback { to: Some("20261120T000000Z-1111111".to_owned()) })
        .unwrap_err()
        .to_string();
    assert!(error.contains("already launches release 20261120T000000Z-1111111"), "{error}");
    let mut first = group(true);
    first.versions.truncate(1);
    let error = group_plan(first, CommandSpec::Rollback { to: None }).unwrap_err().to_string();
    assert!(error.contains("nothing to roll back to"), "{error}");
}
