//! `create_environment` launching the servers roles are missing.

use std::collections::BTreeMap;

use deployer_fleet::Fleet;

use crate::support::moto::Moto;
use crate::support::project::{run_and_check, skip};

use super::{launch_project, running};

#[test]
fn create_environment_launches_the_missing_servers_sets_them_up_and_reuses_them_next_time() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    // One web server already runs: it is reused, and one more is launched.
    let existing = moto.ctl(&["launch", &subnet, "demo", "testing", "web", "1"]);
    let mut project = launch_project(&moto, &subnet, "true");
    let mut instances = BTreeMap::new();
    moto.reconcile(&mut project.fleet, &mut instances);

    let plan = run_and_check(&project, &["plan", "create_environment", "testing"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    for expected in [
        "launch 1 `web` server from ami-03cf127a (t3.micro) in subnet-",
        "launch 1 `worker` server from ami-03cf127a (t3.micro) in subnet-",
        "a 20 GB data volume",
        "wait until 2 new server(s) accept ssh",
        "tag the 1 new server(s) role=worker, Name=demo_testing_worker",
    ] {
        assert!(plan.stdout.contains(expected), "{expected}:\n{}", plan.stdout);
    }
    assert_eq!(running(&moto.roles("demo", "testing")), ["web"], "plan launched nothing");

    let outcome = moto.run_reconciling(&mut project, &mut instances, &["create_environment", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(outcome.stderr.contains("[this machine] new-worker-1 is instance i-"), "{}", outcome.stderr);
    assert_eq!(running(&moto.roles("demo", "testing")), ["web", "web", "worker"], "retagged from -PENDING");
    let release = project.current(instances[existing[0]["id"].as_str().unwrap()]).expect("a release");
    for (id, &host) in &instances {
        assert_eq!(project.current(host).as_deref(), Some(release.as_str()), "instance {id} serves the release");
    }

    // Again: everything runs, so nothing is launched, and the servers get a deploy.
    project.commit("v2\n");
    project.tick();
    let outcome = moto.run_reconciling(&mut project, &mut instances, &["create_environment", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(!outcome.stderr.contains("launch"), "{}", outcome.stderr);
    assert_eq!(moto.roles("demo", "testing").len(), 3, "no instance was launched");
    for &host in instances.values() {
        assert_ne!(project.current(host).as_deref(), Some(release.as_str()));
    }
    moto.assert_invariants(None);
}

#[test]
fn a_failing_setup_terminates_what_was_launched_and_tries_again() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    // The first server to run the setup fails it; every later one passes.
    let marks = tempfile::Builder::new().prefix("dplmark").tempdir().unwrap();
    std::fs::set_permissions(marks.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let setup = format!("if mkdir {}/failed 2>/dev/null; then exit 1; fi", marks.path().display());
    let mut project = launch_project(&moto, &subnet, &setup);
    let mut instances = BTreeMap::new();

    let outcome = moto.run_reconciling(&mut project, &mut instances, &["create_environment", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(outcome.stderr.contains("server creation failed; trying again (attempt 2 of 3)"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("terminate the servers this run launched: ok, terminated i-"),
        "{}",
        outcome.stderr
    );
    let roles = moto.roles("demo", "testing");
    let terminated: Vec<&str> =
        roles.iter().filter(|(state, _)| state == "terminated").map(|(_, role)| role.as_str()).collect();
    assert_eq!(terminated, ["web-PENDING", "web-PENDING", "worker-PENDING"], "the first attempt's servers: {roles:?}");
    assert_eq!(running(&roles), ["web", "web", "worker"]);
    moto.assert_invariants(None);
}
