//! `deploy_serial` with `aws.deploy_serial: refresh`: AWS's instance refresh
//! replaces the group (moto's server gains the refresh API from
//! `tests/moto/server.py`, done at once), then deployer checks every new
//! instance over ssh, and a failure refreshes the group back.

use std::collections::BTreeMap;

use deployer_fleet::Fleet;

use crate::support::moto::Moto;
use crate::support::project::{run_and_check, skip};

use super::groups::{group_environment_of, group_state};

#[test]
fn a_refresh_replaces_the_group_and_a_refresh_whose_instances_fail_is_refreshed_back() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let mut instances = BTreeMap::new();
    let mut project = group_environment_of(&moto, &mut instances, 2);
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    assert!(config.contains("aws:\n  discover: tags\n"), "{config}");
    let config = config.replace("aws:\n  discover: tags\n", "aws:\n  discover: tags\n  deploy_serial: refresh\n");
    std::fs::write(project.path().join("fabulaws-config.yml"), config).unwrap();
    let old: Vec<String> = serde_json::from_value(group_state(&moto)["instances"].clone()).unwrap();
    let worker = instances.iter().find(|(id, _)| !old.contains(id)).map(|(_, &host)| host).unwrap();

    let plan = run_and_check(&project, &["plan", "deploy_serial", "testing", "--batch-size", "1"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("(launch before terminate: healthy 100% to 150%)"), "{}", plan.stdout);

    // v2: AWS replaces the group; deployer checks the new instances over ssh.
    let outcome =
        moto.run_reconciling(&mut project, &mut instances, &["deploy_serial", "testing", "--batch-size", "1"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stderr.contains("[new-web-2] check the server serves the release from its image: ok"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("may remain on"), "the old servers' locks went with them: {}", outcome.stderr);
    let after = group_state(&moto);
    let v2_instances: Vec<String> = serde_json::from_value(after["instances"].clone()).unwrap();
    assert_eq!(v2_instances.len(), 2);
    assert!(v2_instances.iter().all(|id| !old.contains(id)), "every instance is new: {v2_instances:?}");
    assert_eq!((after["min"].as_u64(), after["desired"].as_u64(), after["max"].as_u64()), (Some(2), Some(2), Some(4)));
    assert_eq!(after["version"], "2");
    assert_eq!(after["suspended"], serde_json::json!([]), "a refresh suspends nothing");
    let v2 = moto.ctl(&["images"])[0]["tags"]["deployer:release"].as_str().unwrap().to_owned();
    for id in &v2_instances {
        assert_eq!(project.current(instances[id]).as_deref(), Some(v2.as_str()), "{id} serves v2");
    }
    assert_eq!(project.current(worker).as_deref(), Some(v2.as_str()), "the worker switched too");
    moto.assert_invariants(Some("demo-testing-ag"));

    // v3, whose image fails the health check: the group is refreshed back to
    // version 2, whose instances serve v2 from its image; the worker switches back.
    project.commit("v3\n");
    project.tick();
    *moto.image_fault.lock().unwrap() = Some(("unhealthy".to_owned(), "broken\n".to_owned()));
    let outcome =
        moto.run_reconciling(&mut project, &mut instances, &["deploy_serial", "testing", "--batch-size", "1"]);
    assert_eq!(outcome.code, 3, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(outcome.stderr.contains("verify failed"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("put the group back on its version: ok"), "{}", outcome.stderr);
    let back = group_state(&moto);
    assert_eq!(back["version"], "2", "{back}");
    let now: Vec<String> = serde_json::from_value(back["instances"].clone()).unwrap();
    assert_eq!(now.len(), 2);
    for id in &now {
        assert_eq!(project.current(instances[id]).as_deref(), Some(v2.as_str()), "{id} serves v2 again");
    }
    assert_eq!(project.current(worker).as_deref(), Some(v2.as_str()), "the worker switched back");
    moto.assert_invariants(Some("demo-testing-ag"));
}
