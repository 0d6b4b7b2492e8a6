//! Rollouts in waves (`rollout:`): a canary, then percentages, each wave switched,
//! restarted and health-checked before the next; a bake and a gate between waves;
//! a failing gate switches every wave back and the next wave never starts.

use deployer_fleet::DEPLOY_PATH;

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{Project, project_with, run_and_check};

const HOSTS: usize = 10;

fn roles() -> String {
    format!(
        "  web:\n\
         \x20   restart: \"echo $DEPLOYER_RELEASE >> {DEPLOY_PATH}/restarts\"\n\
         \x20   healthcheck: test -f app.txt\n"
    )
}

/// Waves of 1, then to 30%, then everything; the gate logs what it is told and
/// fails after the wave named in `fail-gate-after` (a file beside the configuration);
/// drain and undrain record which release each host left and rejoined service on.
fn rollout(bake: u32) -> String {
    format!(
        "rollout:\n\
         \x20 waves: [1, 30%, 100%]\n\
         \x20 bake: {bake}\n\
         \x20 gate: 'echo \"$DEPLOYER_WAVE/$DEPLOYER_WAVES $DEPLOYER_RELEASE $DEPLOYER_WAVE_HOSTS\" >> gate.log; test \"$DEPLOYER_WAVE\" != \"$(cat fail-gate-after 2>/dev/null)\"'\n\
         \x20 drain: 'echo \"drain $DEPLOYER_RELEASE\" >> {DEPLOY_PATH}/service'\n\
         \x20 undrain: 'echo \"undrain $DEPLOYER_RELEASE\" >> {DEPLOY_PATH}/service'\n"
    )
}

fn names(project: &Project, hosts: std::ops::Range<usize>) -> String {
    hosts.map(|host| project.fleet.hosts[host].host_string(&project.fleet.user)).collect::<Vec<_>>().join(" ")
}

fn current_everywhere(project: &Project) -> Vec<Option<String>> {
    (0..HOSTS).map(|host| project.current(host)).collect()
}

#[test]
fn waves_roll_out_in_order_with_a_gate_between_them() {
    let Some(project) = project_with(HOSTS, &roles(), &rollout(1)) else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let first = project.current(0).unwrap();

    let check = run_and_check(&project, &["check"]);
    assert!(
        check.stdout.contains("testing: deploy_serial in waves 1, 30%, 100% (bake 1s, gate `echo"),
        "{}",
        check.stdout
    );
    let plan = run_and_check(&project, &["plan", "deploy_serial", "testing"]);
    assert!(
        plan.stdout.contains(&format!("  wave 1 (1 host): {}\n", names(&project, 0..1).replace(' ', ", "))),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("  wave 2 (2 hosts): {}\n", names(&project, 1..3).replace(' ', ", "))),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("  wave 3 (7 hosts): "), "{}", plan.stdout);
    assert!(plan.stdout.contains("after each wave but the last: bake 1s, then the gate"), "{}", plan.stdout);

    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_serial", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let second = project.current(0).unwrap();
    assert!(current_everywhere(&project).iter().all(|release| release.as_deref() == Some(second.as_str())));
    for expected in [
        "rollout: wave 1/3: ",
        "rollout: wave 1 done; baking 1s",
        "rollout: gate after wave 1: passed",
        "rollout: wave 3/3: ",
    ] {
        assert!(outcome.stderr.contains(expected), "missing {expected:?} in:\n{}", outcome.stderr);
    }
    // The gate ran after waves 1 and 2 (not after the last), told the wave's hosts.
    let gate = std::fs::read_to_string(project.path().join("gate.log")).unwrap();
    assert_eq!(
        gate,
        format!("1/3 {second} {}\n2/3 {second} {}\n", names(&project, 0..1), names(&project, 1..3)),
        "the gate's log"
    );
    // Each host left service on the old release and came back on the new one.
    for host in 0..HOSTS {
        assert_eq!(
            project.lines(host, "service"),
            [format!("drain {first}"), format!("undrain {second}")],
            "host {host}"
        );
    }
    assert_ne!(first, second);
}

#[test]
fn a_failing_gate_switches_every_wave_back_and_stops_the_rollout() {
    let Some(project) = project_with(HOSTS, &roles(), &rollout(0)) else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let first = project.current(0).unwrap();
    std::fs::write(project.path().join("fail-gate-after"), "2").unwrap();

    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_serial", "testing"]);
    assert_eq!(outcome.code, 3, "put back: {}", outcome.stderr);
    assert!(
        outcome.stderr.contains("rollout: gate after wave 2: FAILED: the gate exited with status 1"),
        "{}",
        outcome.stderr
    );
    check_fleet(&project, HOSTS, &outcome, &Expect::all_on(&first));
    // Waves 1 and 2 switched and were restarted again on the way back; wave 3 never started.
    for host in 0..3 {
        assert_eq!(project.lines(host, "restarts").len(), 3, "host {host}: deploy, new release, back");
    }
    for host in 3..HOSTS {
        assert_eq!(project.lines(host, "restarts").len(), 1, "host {host}: the third wave never started");
        assert!(project.lines(host, "service").is_empty(), "host {host} never left service");
    }
    // Switched back, the first waves' hosts are put back in service on the old release.
    for host in 0..3 {
        assert_eq!(project.lines(host, "service").last(), Some(&format!("undrain {first}")), "host {host}");
    }
}

#[test]
fn with_halt_a_failing_gate_leaves_the_switched_waves_and_says_partial() {
    let Some(project) = project_with(HOSTS, &roles(), &rollout(0)) else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let first = project.current(0).unwrap();
    std::fs::write(project.path().join("fail-gate-after"), "2").unwrap();

    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["--on-failure=halt", "deploy_serial", "testing"]);
    assert_eq!(outcome.code, 4, "partial: {}", outcome.stderr);
    let second = project.current(0).unwrap();
    assert_ne!(second, first);
    check_fleet(&project, HOSTS, &outcome, &Expect::partial(&first, &second, &[0, 1, 2]));
    for host in 3..HOSTS {
        assert!(project.lines(host, "service").is_empty(), "host {host}: the third wave never started");
    }
}

/// Hosts drained (out of service) at this moment: each host's drain creates its
/// `out` marker and its undrain removes it.
fn drained(project: &Project) -> usize {
    (0..HOSTS).filter(|&host| project.host_file(host, "out").exists()).count()
}

#[test]
fn min_healthy_holds_at_every_moment_of_a_rollout_by_named_canary_and_groups() {
    // Host 7 is the canary; then two groups (zones); the rest last. The restart
    // takes a moment so a wave's hosts are out of service together.
    let names_of = |project: &Project, hosts: &[usize]| {
        hosts.iter().map(|&host| format!("\"{}\"", project.fleet.hosts[host].address)).collect::<Vec<_>>().join(", ")
    };
    let roles = format!(
        "  web:\n\
         \x20   restart: \"sleep 0.3; echo $DEPLOYER_RELEASE >> {DEPLOY_PATH}/restarts\"\n\
         \x20   healthcheck: test -f app.txt\n"
    );
    let Some(project) = project_with(HOSTS, &roles, "") else { return };
    let rollout = format!(
        "rollout:\n\
         \x20 canary: [{canary}]\n\
         \x20 groups:\n\
         \x20   zone-a: [{zone_a}]\n\
         \x20   zone-b: [{zone_b}]\n\
         \x20 min_healthy: 60%\n\
         \x20 gate: 'echo \"$DEPLOYER_WAVE $DEPLOYER_WAVE_HOSTS\" >> gate.log'\n\
         \x20 drain: 'touch {DEPLOY_PATH}/out'\n\
         \x20 undrain: 'rm {DEPLOY_PATH}/out'\n",
        canary = names_of(&project, &[7]),
        zone_a = names_of(&project, &[0, 2, 4]),
        zone_b = names_of(&project, &[1, 3, 5]),
    );
    project.append_config(&rollout);
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    project.tick();
    project.next_version("v2\n");

    // A poller counts the hosts out of service while the rollout runs.
    let (outcome, most_out) = crate::support::most_while(
        std::time::Duration::from_millis(2),
        || drained(&project),
        || run_and_check(&project, &["deploy_serial", "testing"]),
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(0).unwrap();
    check_fleet(&project, HOSTS, &outcome, &Expect::all_on(&release));
    // 60% of 10 stay in service: never more than 4 out, and the poller saw the
    // largest wave (the three of a zone, or the remaining three) out together.
    assert!(most_out <= 4, "{most_out} hosts were out of service at once");
    assert!(most_out >= 2, "the poller never saw a wave out of service ({most_out})");
    assert_eq!(drained(&project), 0, "every host is back in service");

    // The gate saw the canary, then each zone, in that order.
    let gate = std::fs::read_to_string(project.path().join("gate.log")).unwrap();
    let address = |host: usize| project.fleet.hosts[host].host_string(&project.fleet.user);
    let expected = format!(
        "1 {}\n2 {} {} {}\n3 {} {} {}\n",
        address(7),
        address(0),
        address(2),
        address(4),
        address(1),
        address(3),
        address(5)
    );
    assert_eq!(gate, expected);

    // Waves that would take more out than min_healthy allows are refused before any host is touched.
    let refused = run_and_check(&project, &["deploy_serial", "testing", "--waves", "1,100%"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("`min_healthy` keeps 6 in service"), "{}", refused.stderr);
    assert_eq!(project.current(0).unwrap(), release);
}
