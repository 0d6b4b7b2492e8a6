//! Discovery by tags, describe, and suspending and resuming a group's processes.

use std::collections::BTreeMap;

use deployer_fleet::Fleet;

use crate::support::moto::Moto;
use crate::support::project::{DEFAULT_ROLES, Project, run_and_check, skip};

/// A project whose `testing` environment lists no hosts: `aws.discover: tags`
/// finds them in moto.
fn cloud_project(moto: &Moto, fleet: Fleet, directory: tempfile::TempDir) -> Project {
    let extra = format!(
        "deploy_user: {user}\nregion: us-east-1\nec2_attr_for_ssh: private_ip_address\n\
         aws:\n  discover: tags\n  endpoint_url: {endpoint}\n",
        user = fleet.user,
        endpoint = moto.endpoint,
    );
    let roles = format!("{DEFAULT_ROLES}  worker:\n    restart: \"true\"\n");
    let project = Project::new(directory, fleet, &roles, &extra, "environments:\n  testing:\n    branch: main\n");
    // Instance addresses are bare IPs: the port and user come from the file.
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    let config =
        config.replace("valid_roles: [web]", "valid_roles: [web, worker]").replace("ssh:\n", "ssh:\n  port: 2222\n");
    std::fs::write(project.path().join("fabulaws-config.yml"), config).unwrap();
    project.tick();
    project
}

/// The hosts `deployer hosts` lists, sorted (instances launched together come in
/// instance-id order, which is random).
fn hosts(project: &Project) -> Vec<(String, String)> {
    let outcome = run_and_check(project, &["hosts", "testing", "--json"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let hosts: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let mut hosts: Vec<(String, String)> = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|host| (host["host"].as_str().unwrap().to_owned(), host["roles"][0].as_str().unwrap().to_owned()))
        .collect();
    hosts.sort();
    hosts
}

fn sorted(mut hosts: Vec<(String, String)>) -> Vec<(String, String)> {
    hosts.sort();
    hosts
}

fn address_of(launched: &serde_json::Value, index: usize) -> String {
    launched[index]["ip"].as_str().unwrap().to_owned()
}

#[test]
fn roles_without_hosts_are_found_by_tags_and_deployed_to_over_ssh() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    let web = moto.ctl(&["launch", &subnet, "demo", "testing", "web", "2"]);
    let worker = moto.ctl(&["launch", &subnet, "demo", "testing", "worker", "1"]);
    // Not found: another environment, another deployment, a server being built.
    moto.ctl(&["launch", &subnet, "demo", "staging", "web", "1"]);
    moto.ctl(&["launch", &subnet, "other", "testing", "web", "1"]);
    moto.ctl(&["launch", &subnet, "demo", "testing", "web-PENDING", "1"]);

    let directory = tempfile::Builder::new().prefix("dpa").tempdir().unwrap();
    let mut fleet = Fleet::start_empty(&directory.path().join("fleet")).expect("the fleet starts");
    let mut instances = BTreeMap::new();
    moto.reconcile(&mut fleet, &mut instances);
    let mut project = cloud_project(&moto, fleet, directory);

    let address = address_of;
    let expected = vec![
        (address(&web, 0), "web".to_owned()),
        (address(&web, 1), "web".to_owned()),
        (address(&worker, 0), "worker".to_owned()),
    ];
    let expected = sorted(expected);
    assert_eq!(hosts(&project), expected, "exactly the running instances tagged demo/testing, by role");

    let check = run_and_check(&project, &["check"]);
    assert!(check.stdout.contains("web by EC2 tags, worker by EC2 tags"), "{}", check.stdout);
    assert!(check.stdout.contains(&format!("AWS calls go to {}", moto.endpoint)), "{}", check.stdout);

    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let index_of = |id: &str| instances[id];
    let web0 = index_of(web[0]["id"].as_str().unwrap());
    let release = project.current(web0).expect("the web instance has a release");
    for launched in [&web[0], &web[1], &worker[0]] {
        let host = index_of(launched["id"].as_str().unwrap());
        assert_eq!(project.current(host).as_deref(), Some(release.as_str()), "instance {launched}");
    }
    let staging = instances.values().filter(|&&host| project.current(host).is_none()).count();
    assert_eq!(staging, 3, "the instances of other environments, deployments and pending roles were not touched");

    // A terminated instance is no longer a host; the next deploy goes to the rest.
    moto.ctl(&["terminate", web[1]["id"].as_str().unwrap()]);
    moto.reconcile(&mut project.fleet, &mut instances);
    let remaining: Vec<(String, String)> =
        expected.iter().filter(|(address, _)| *address != address_of(&web, 1)).cloned().collect();
    assert_eq!(hosts(&project), remaining);
    project.commit("v2\n");
    project.tick();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    assert_ne!(project.current(web0).as_deref(), Some(release.as_str()));
}

#[test]
fn aws_errors_name_the_role_and_the_reason_before_any_host_is_touched() {
    let directory = tempfile::tempdir().unwrap();
    let config = "project: demo\nrepo: /srv/git/demo.git\nvalid_roles: [web]\nbranches: {testing: main}\n\
                  environments: [testing]\naws: {discover: tags, endpoint_url: \"http://127.0.0.1:9\"}\nregion: us-east-1\n";
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    let outcome = deployer_for_aws(directory.path(), &["hosts", "testing"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("role `web` of environment `testing`: finding hosts by EC2 tags failed: DescribeInstances:"),
        "{}",
        outcome.stderr
    );

    // No region anywhere: said so, with where to give one, before any call.
    std::fs::write(directory.path().join("fabulaws-config.yml"), config.replace("region: us-east-1\n", "")).unwrap();
    let outcome = deployer_for_aws(directory.path(), &["hosts", "testing"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("no AWS region: set `region`"), "{}", outcome.stderr);
}

/// A project whose environments name their Auto Scaling group, with no host: the
/// suspend and resume commands call AWS from this machine only.
fn group_project(moto: &Moto) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let config = format!(
        "project: demo\nrepo: /srv/git/demo.git\nvalid_roles: [web]\nbranches: {{testing: main, staging: main}}\n\
         environments: [testing, staging]\nregion: us-east-1\naws: {{endpoint_url: \"{}\"}}\n\
         auto_scaling_groups: {{demo: {{testing: demo-testing-ag}}}}\n",
        moto.endpoint
    );
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    directory
}

/// `deployer ARGS` in `directory` with emulator credentials, no instance metadata
/// and no region but the file's.
fn deployer_for_aws(directory: &std::path::Path, args: &[&str]) -> crate::support::Outcome {
    crate::support::run(
        crate::support::deployer(directory)
            .env("HOME", directory)
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(args),
    )
}

#[test]
fn autoscaling_processes_are_suspended_and_resumed_from_this_machine() {
    if let Some(reason) = Moto::unavailable() {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    moto.ctl(&["group", "demo-testing-ag", &subnet, "demo", "testing", "web", "0"]);
    let directory = group_project(&moto);
    let suspended = || moto.ctl(&["group-state", "demo-testing-ag"])["suspended"].clone();

    let plan = deployer_for_aws(
        directory.path(),
        &["plan", "suspend_autoscaling_processes", "testing", "azrebalance", "Launch"],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("runs on this machine, through the cloud API"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("suspend AZRebalance, Launch of auto scaling group `demo-testing-ag`"),
        "{}",
        plan.stdout
    );
    assert_eq!(suspended(), serde_json::json!([]), "plan changed nothing");

    let outcome =
        deployer_for_aws(directory.path(), &["suspend_autoscaling_processes", "testing", "AZRebalance", "Launch"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("[this machine] suspend auto scaling processes: ok"), "{}", outcome.stderr);
    assert_eq!(suspended(), serde_json::json!(["AZRebalance", "Launch"]));

    let outcome = deployer_for_aws(directory.path(), &["resume_autoscaling_processes", "testing", "Launch"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(suspended(), serde_json::json!(["AZRebalance"]));
    let outcome = deployer_for_aws(directory.path(), &["resume-autoscaling-processes", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(suspended(), serde_json::json!([]), "no process named: all of them");

    // Refused before any call: an unknown process, an environment without a group.
    let outcome = deployer_for_aws(directory.path(), &["suspend_autoscaling_processes", "testing", "Launhc"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("`Launhc` is not an auto scaling process"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("Launch"), "did you mean: {}", outcome.stderr);
    let outcome = deployer_for_aws(directory.path(), &["suspend_autoscaling_processes", "staging"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("add it to `auto_scaling_groups`"), "{}", outcome.stderr);

    // A group that does not exist: the call fails, named, and the exit code says so.
    let config = std::fs::read_to_string(directory.path().join("fabulaws-config.yml")).unwrap();
    std::fs::write(directory.path().join("fabulaws-config.yml"), config.replace("demo-testing-ag", "demo-gone-ag"))
        .unwrap();
    let outcome = deployer_for_aws(directory.path(), &["suspend_autoscaling_processes", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("there is no auto scaling group `demo-gone-ag`"), "{}", outcome.stderr);
}

#[test]
fn describe_shows_every_tagged_instance_and_the_group() {
    if let Some(reason) = Moto::unavailable() {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    moto.ctl(&["group", "demo-testing-ag", &subnet, "demo", "testing", "web", "2"]);
    moto.ctl(&["launch", &subnet, "demo", "testing", "worker", "1"]);
    moto.ctl(&["launch", &subnet, "demo", "testing", "web-PENDING", "1"]);
    moto.ctl(&["launch", &subnet, "demo", "staging", "web", "1"]);
    let directory = group_project(&moto);

    let outcome = deployer_for_aws(directory.path(), &["describe", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let text = &outcome.stdout;
    assert!(text.contains("instances tagged deployment=demo, environment=testing:"), "{text}");
    let role_of_rows: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(" running "))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(role_of_rows, ["web", "web", "web-PENDING", "worker"], "staging's instance is not listed:\n{text}");
    assert!(text.contains("auto scaling group demo-testing-ag: min 2, desired 2, max 4"), "{text}");
    assert!(text.contains("launch template demo-testing-ag-template version 1"), "{text}");
    assert!(text.contains("suspended processes: none"), "{text}");
    assert_eq!(text.matches("InService").count(), 2, "{text}");

    let outcome = deployer_for_aws(directory.path(), &["--json", "describe", "testing"]);
    let description: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(description["instances"].as_array().unwrap().len(), 4);
    assert_eq!(description["group"]["desired"], 2);

    // An environment without a group still lists its instances.
    let outcome = deployer_for_aws(directory.path(), &["describe", "staging"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("no auto scaling group"), "{}", outcome.stdout);
}
