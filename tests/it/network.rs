//! Faults in the network itself, on hosts that are separate network namespaces:
//! a link cut before the run, during prepare and after the switch, packets
//! dropped silently mid-step, and a slow link. deployer runs in the fleet's
//! client namespace; nothing here sends a packet outside the namespaces the
//! fleet made.

use std::time::{Duration, Instant};

use crate::support::invariants::{CANARY_CONFIG, Expect, check_fleet, plant_canary};
use crate::support::project::{
    Project, gated_build_roles, held_restart_roles, project_on_network, run_and_check, wait_for,
};
use deployer_fleet::DEPLOY_PATH;

/// Short keepalives, so a host that goes silent is given up on within seconds
/// (three missed keepalives), while every step may run far longer.
const EXTRA: &str = "execution:\n  command_timeout: 120\n";
const KEEPALIVE: &str = "  keepalive_interval: 1\n";

fn project(hosts: usize, roles: &str) -> Option<Project> {
    let project = project_on_network(hosts, roles, &format!("{EXTRA}{CANARY_CONFIG}"))?;
    plant_canary(&project);
    let config = project.path().join("fabulaws-config.yml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen("ssh:\n", &format!("ssh:\n{KEEPALIVE}"), 1);
    std::fs::write(config, text).unwrap();
    Some(project)
}

/// A first release on every host, with every gate open.
fn first_release(project: &Project, hosts: usize) -> String {
    for host in 0..hosts {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let outcome = run_and_check(project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(0).unwrap();
    check_fleet(project, hosts, &outcome, &Expect::all_on(&release));
    for host in 0..hosts {
        for gate in ["go", "building"] {
            let _ = std::fs::remove_file(project.host_file(host, gate));
        }
    }
    project.next_version("v2\n");
    release
}

#[test]
fn deploys_over_namespaced_hosts() {
    let Some(project) = project(3, &held_restart_roles()) else { return };
    let first = first_release(&project, 3);
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let second = project.current(0).unwrap();
    assert_ne!(first, second);
    check_fleet(&project, 3, &outcome, &Expect::all_on(&second).keeping(&first));
}

#[test]
fn a_host_whose_link_is_down_at_the_start_stops_the_run_before_anything_changes() {
    let Some(project) = project(3, &held_restart_roles()) else { return };
    let first = first_release(&project, 3);
    project.fleet.cut_link(1, true).unwrap();
    let started = Instant::now();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    project.fleet.cut_link(1, false).unwrap();
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(outcome.stderr.contains("unreachable"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains(&project.fleet.hosts[1].address.to_string()), "{}", outcome.stderr);
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first));
}

#[test]
fn a_link_cut_during_prepare_fails_in_bounded_time_and_reports_the_lock_it_left() {
    let Some(project) = project(3, &gated_build_roles()) else { return };
    let first = first_release(&project, 3);
    let child = project.spawn(&["deploy_full", "testing"]);
    for host in 0..3 {
        wait_for(&project.host_file(host, "building"));
    }
    project.fleet.cut_link(1, true).unwrap();
    for host in 0..3 {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let started = Instant::now();
    let outcome = crate::support::project::finish(child);
    let elapsed = started.elapsed();
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(elapsed < Duration::from_secs(30), "keepalives end it in seconds, took {elapsed:?}");
    assert!(outcome.stderr.contains("failed; nothing was switched"), "{}", outcome.stderr);
    // Every host still serves the first release; the cut host keeps the lock this
    // run could not release, and the output says so with its id.
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first).cut_off(1));

    // Once the link is back, the reported lock is released by its id and the next
    // deploy cleans up what the cut run left on the host.
    project.fleet.cut_link(1, false).unwrap();
    let id = crate::support::invariants::lock_id(&project, 1).unwrap();
    let released = run_and_check(&project, &["lock", "release", "testing", "--id", &id]);
    assert_eq!(released.code, 0, "{}{}", released.stdout, released.stderr);
    project.tick();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let second = project.current(0).unwrap();
    check_fleet(&project, 3, &outcome, &Expect::all_on(&second).keeping(&first));
}

#[test]
fn packets_dropped_silently_mid_step_end_the_run_within_the_keepalive_limit() {
    let Some(project) = project(3, &held_restart_roles()) else { return };
    let first = first_release(&project, 3);
    // Host 2's step would run for ten minutes (its limit is two); the other hosts'
    // end in a second. Only the keepalives can end the run early.
    std::fs::write(project.host_file(2, "forever"), "").unwrap();
    let step =
        format!("touch {DEPLOY_PATH}/started; if [ -e {DEPLOY_PATH}/forever ]; then sleep 600; else sleep 1; fi");
    let child = project.spawn(&["run", "testing", "--", &step]);
    for host in 0..3 {
        wait_for(&project.host_file(host, "started"));
    }
    project.fleet.drop_packets(2, true).unwrap();
    let started = Instant::now();
    let outcome = crate::support::project::finish(child);
    let elapsed = started.elapsed();
    project.fleet.drop_packets(2, false).unwrap();
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(elapsed < Duration::from_secs(20), "three missed keepalives end it, took {elapsed:?}");
    assert!(outcome.stderr.contains(&project.fleet.hosts[2].address.to_string()), "{}", outcome.stderr);
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first).cut_off(2));
}

#[test]
fn a_link_cut_after_the_switch_leaves_a_partial_fleet_that_is_named_and_repairable() {
    let Some(project) = project(3, &held_restart_roles()) else { return };
    let first = first_release(&project, 3);
    std::fs::write(project.host_file(0, "hold"), "").unwrap();
    let child = project.spawn(&["deploy_full", "testing"]);
    wait_for(&project.host_file(0, "holding"));
    // Every host has switched; host 0 holds the restart while host 2 drops off.
    project.fleet.cut_link(2, true).unwrap();
    std::fs::remove_file(project.host_file(0, "hold")).unwrap();
    let outcome = crate::support::project::finish(child);
    let address = project.fleet.hosts[2].address.to_string();
    assert_eq!(outcome.code, 4, "partial: {}", outcome.stderr);
    assert!(outcome.stderr.contains(&address), "the host left on the new release is named: {}", outcome.stderr);
    let second = project.current(2).unwrap();
    assert_ne!(first, second);
    check_fleet(&project, 3, &outcome, &Expect::partial(&first, &second, &[2]).cut_off(2));

    // With the link back, status shows the drift, the lock is released by its id,
    // and a deploy brings every host onto one release.
    project.fleet.cut_link(2, false).unwrap();
    let status = run_and_check(&project, &["status", "testing"]);
    assert!(status.stdout.contains(&second) && status.stdout.contains(&first), "{}", status.stdout);
    let id = crate::support::invariants::lock_id(&project, 2).unwrap();
    let released = run_and_check(&project, &["lock", "release", "testing", "--id", &id]);
    assert_eq!(released.code, 0, "{}{}", released.stdout, released.stderr);
    project.tick();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let third = project.current(0).unwrap();
    check_fleet(&project, 3, &outcome, &Expect::all_on(&third));
}

#[test]
fn a_slow_link_still_deploys_every_host() {
    let Some(project) = project(3, &held_restart_roles()) else { return };
    let first = first_release(&project, 3);
    project.fleet.slow_link(1, Some(256)).unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    project.fleet.slow_link(1, None).unwrap();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let second = project.current(0).unwrap();
    check_fleet(&project, 3, &outcome, &Expect::all_on(&second).keeping(&first));
}
