//! `deploy_serial` with `rollout:` waves: the plan names every wave's hosts, the
//! bake and the gate; `--batch-size` still wins.

mod support;

use camino::Utf8Path;
use deployer_config::parse_config;
use deployer_plan::CommandSpec;

const CONFIG: &str = "project: myproject\nrepo: /srv/git/myproject.git\nvalid_roles: [web]\n\
roles: {web: {restart: sudo systemctl restart myproject, healthcheck: curl -f http://127.0.0.1/health}}\n\
rollout: {waves: [1, 30%, 100%], bake: 300, gate: ./smoke-test --hosts \"$DEPLOYER_WAVE_HOSTS\", gate_timeout: 60}\n\
environments:\n  production:\n    branch: main\n    roles:\n      web: [web1, web2, web3, web4, web5, web6, web7, web8, web9, web10]\n";

fn plan(command: CommandSpec) -> deployer_plan::Plan {
    plan_of(CONFIG, command).unwrap()
}

fn plan_of(text: &str, command: CommandSpec) -> Result<deployer_plan::Plan, deployer_plan::PlanError> {
    let config = parse_config(Utf8Path::new("fabulaws-config.yml"), text, &[]).unwrap();
    support::plan(&config, "production", command)
}

#[test]
fn min_healthy_refuses_a_wave_that_would_take_too_many_hosts_out() {
    let text = CONFIG.replace("gate_timeout: 60}", "gate_timeout: 60, min_healthy: 50%}");
    let error = plan_of(&text, CommandSpec::DeploySerial { batch_size: None, waves: None }).unwrap_err();
    assert_eq!(
        error.to_string(),
        "wave 3 takes 7 of 10 hosts out of service at once; `min_healthy` keeps 5 in service, so a wave may take at most 5: add waves"
    );
    let text = CONFIG
        .replace("waves: [1, 30%, 100%]", "waves: [1, 30%, 60%, 100%]")
        .replace("gate_timeout: 60}", "gate_timeout: 60, min_healthy: 50%}");
    assert!(plan_of(&text, CommandSpec::DeploySerial { batch_size: None, waves: None }).is_ok());
}

#[test]
fn waves_bake_and_gate_are_in_the_plan() {
    let plan = plan(CommandSpec::DeploySerial { batch_size: None, waves: None });
    let rollout = plan.phases.iter().find(|phase| phase.name == "rollout").unwrap();
    let text = plan.to_text();
    let start = text.find(": rollout: ").unwrap();
    let end = text[start..].find("\nphase ").map_or(text.len(), |end| start + end);
    let section = &text[text[..start].rfind("phase ").unwrap()..end];
    let overview: String =
        section.lines().filter(|line| !line.trim_start().starts_with('|')).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!("waves_text", overview);
    insta::assert_json_snapshot!("waves_concurrency", (&rollout.concurrency, &rollout.between_waves));
}

#[test]
fn a_batch_size_on_the_command_line_wins_over_the_waves() {
    let plan = plan(CommandSpec::DeploySerial { batch_size: Some(4), waves: None });
    let rollout = plan.phases.iter().find(|phase| phase.name == "rollout").unwrap();
    assert_eq!(rollout.concurrency, deployer_plan::Concurrency::Batches { size: 4 });
    assert!(rollout.between_waves.is_none());
}

#[test]
fn waves_from_the_command_line_keep_the_files_bake_and_gate() {
    use deployer_config::WaveSize;
    let waves: Vec<WaveSize> = ["2", "50%"].iter().map(|wave| wave.parse().unwrap()).collect();
    let plan = plan(CommandSpec::DeploySerial { batch_size: None, waves: Some(waves) });
    let rollout = plan.phases.iter().find(|phase| phase.name == "rollout").unwrap();
    assert_eq!(rollout.concurrency, deployer_plan::Concurrency::Waves { sizes: vec![2, 3, 5] });
    assert_eq!(rollout.between_waves.as_ref().unwrap().bake, 300);
    assert!("0".parse::<WaveSize>().is_err() && "101%".parse::<WaveSize>().is_err());
}

#[test]
fn bakes_that_outlast_the_dead_mans_switch_are_refused() {
    let text = CONFIG.replace("rollout:", "auto_revert_after: 500\nrollout:");
    let error = plan_of(&text, CommandSpec::DeploySerial { batch_size: None, waves: None }).unwrap_err();
    assert!(error.to_string().contains("the rollout bakes 600s in all, but `auto_revert_after` reverts"), "{error}");
    let text = CONFIG.replace("rollout:", "auto_revert_after: 900\nrollout:");
    assert!(plan_of(&text, CommandSpec::DeploySerial { batch_size: None, waves: None }).is_ok());
}

/// The hosts of each wave, in order, as the executor groups them.
fn waves_of(plan: &deployer_plan::Plan) -> Vec<Vec<String>> {
    let rollout = plan.phases.iter().find(|phase| phase.name == "rollout").unwrap();
    let deployer_plan::Concurrency::Waves { sizes } = &rollout.concurrency else { panic!("not waves") };
    let mut hosts = rollout.work.iter().map(|work| plan.hosts[work.host].host.clone());
    sizes.iter().map(|&size| hosts.by_ref().take(size as usize).collect()).collect()
}

#[test]
fn a_named_canary_and_groups_choose_the_waves() {
    let serial = || CommandSpec::DeploySerial { batch_size: None, waves: None };
    let text = CONFIG.replace("waves: [1, 30%, 100%]", "canary: [web7], waves: [50%, 100%]");
    let plan = plan_of(&text, serial()).unwrap();
    assert_eq!(
        waves_of(&plan),
        [vec!["web7"], vec!["web1", "web2", "web3", "web4"], vec!["web5", "web6", "web8", "web9", "web10"]]
    );

    let text = CONFIG.replace(
        "waves: [1, 30%, 100%]",
        "canary: [web10], groups: {zone-b: [web2, web4, web6], zone-a: [web1, web3]}",
    );
    let plan = plan_of(&text, serial()).unwrap();
    assert_eq!(
        waves_of(&plan),
        [vec!["web10"], vec!["web2", "web4", "web6"], vec!["web1", "web3"], vec!["web5", "web7", "web8", "web9"]],
        "a last wave for the hosts in no group"
    );
    assert!(
        plan.to_text().contains("wave 1 (1 host): web10\n  wave 2 (3 hosts): web2, web4, web6"),
        "{}",
        plan.to_text()
    );

    // `--waves` replaces the canary and the groups; a name this run does not target is refused.
    let plan = plan_of(
        &text,
        CommandSpec::DeploySerial { batch_size: None, waves: Some(vec![deployer_config::WaveSize::Percent(50)]) },
    )
    .unwrap();
    assert_eq!(waves_of(&plan)[0][0], "web1");
    let text = CONFIG.replace("waves: [1, 30%, 100%]", "canary: [web11]");
    let error = plan_of(&text, serial()).unwrap_err().to_string();
    assert!(error.contains("`rollout` names `web11` (in `canary`), which this run does not target"), "{error}");
}

/// With `auto_revert_after`, every host arms its revert before it switches, the
/// switch's undo disarms it first, and the deploy's last phase confirms it first.
#[test]
fn armed_reverts_are_in_the_plan() {
    let text = CONFIG.replace("rollout:", "auto_revert_after: 900\nrollout:");
    let plan = plan_of(&text, CommandSpec::DeploySerial { batch_size: None, waves: None }).unwrap();
    let text = plan.to_text();
    // Every phase's overview (no script bodies), from the rollout on, for web1.
    let start = text.find(": rollout: ").map(|start| text[..start].rfind("phase ").unwrap()).unwrap();
    let overview: String = text[start..]
        .lines()
        .filter(|line| !line.trim_start().starts_with('|'))
        .scan(true, |keep, line| {
            // One host's steps are enough: the others are the same.
            if line.trim_start().starts_with("on ") {
                *keep = line.trim_start().starts_with("on web1");
            } else if line.starts_with("phase ") || line.trim_start().starts_with("if this phase or a later one fails")
            {
                *keep = true;
            }
            Some((*keep).then_some(line))
        })
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("armed_reverts_text", overview);
}
