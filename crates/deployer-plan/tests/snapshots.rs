//! Snapshots of the plan of every command on the example configuration, as text
//! and as JSON. Secrets appear only as `[secret:name]`.

mod support;

use deployer_plan::CommandSpec;
use support::{example, plan};

fn snapshot(name: &str, environment: &str, command: CommandSpec) {
    let config = example();
    let plan = plan(&config, environment, command).unwrap();
    let text = plan.to_text();
    let json = serde_json::to_string_pretty(&plan).unwrap();
    for secret_slot in ["[secret:database_password]", "[secret:secret_key]"] {
        if name.starts_with("deploy") || name.starts_with("create") || name.starts_with("update") {
            assert!(text.contains(secret_slot), "{name}: {secret_slot} is missing from the text");
            assert!(json.contains(secret_slot), "{name}: {secret_slot} is missing from the JSON");
        }
    }
    insta::assert_snapshot!(format!("{name}_text"), text);
    insta::assert_json_snapshot!(format!("{name}_json"), plan);
}

#[test]
fn deploy_full() {
    snapshot("deploy_full", "staging", CommandSpec::DeployFull);
}

#[test]
fn deploy_serial() {
    snapshot("deploy_serial", "staging", CommandSpec::DeploySerial { batch_size: Some(2), waves: None });
}

#[test]
fn rollback() {
    snapshot("rollback", "staging", CommandSpec::Rollback { to: None });
}

#[test]
fn rollback_to() {
    snapshot("rollback_to", "staging", CommandSpec::Rollback { to: Some("20261120T090000Z-abc1234".to_owned()) });
}

#[test]
fn begin_upgrade() {
    snapshot("begin_upgrade", "staging", CommandSpec::BeginUpgrade { stay_healthy: true });
}

#[test]
fn begin_upgrade_no_stay_healthy() {
    snapshot("begin_upgrade_no_stay_healthy", "staging", CommandSpec::BeginUpgrade { stay_healthy: false });
}

#[test]
fn end_upgrade() {
    snapshot("end_upgrade", "staging", CommandSpec::EndUpgrade);
}

#[test]
fn update_server_passwords() {
    snapshot("update_server_passwords", "staging", CommandSpec::UpdateServerPasswords);
}

#[test]
fn create_environment() {
    snapshot("create_environment", "testing", CommandSpec::CreateEnvironment);
}

#[test]
fn run() {
    snapshot("run", "staging", CommandSpec::Run { command: "uptime".to_owned() });
}

/// A resume: the hosts where the release is complete only check it; the others
/// build it; everything after the prepare is the resumed command's.
#[test]
fn resume() {
    let config = example();
    let first = support::hosts(&config, "staging")[0].to_string();
    let command = CommandSpec::Resume {
        command: Box::new(CommandSpec::DeployFull),
        release: "20261123T010203Z-3f78685".to_owned(),
        prepared: vec![first.clone()],
    };
    let plan = plan(&config, "staging", command).unwrap();
    assert_eq!(plan.release_id.as_deref(), Some("20261123T010203Z-3f78685"));
    // The prepare runs in the same script as the lock.
    let prepare = plan.phases.iter().find(|phase| phase.name == "lock+prepare").unwrap();
    for work in &prepare.work {
        let kinds: Vec<_> = work.steps.iter().map(|step| step.kind).collect();
        let verify_only = kinds == [deployer_plan::StepKind::Lock, deployer_plan::StepKind::VerifyPrepared];
        assert_eq!(verify_only, plan.hosts[work.host].name == first, "{}", plan.hosts[work.host].name);
    }
    insta::assert_snapshot!("resume_text", plan.to_text());

    // The release id is the resumed one, or the plan is refused.
    let command = CommandSpec::Resume {
        command: Box::new(CommandSpec::DeployFull),
        release: "20261122T000000Z-3f78685".to_owned(),
        prepared: vec![first],
    };
    let error = deployer_plan::PlanError::to_string(&support::plan(&config, "staging", command).unwrap_err());
    assert!(error.contains("resume: the release to continue is 20261122T000000Z-3f78685"), "{error}");
}
