//! Runs against a real fleet of OpenSSH `sshd` hosts on loopback (see
//! `crates/deployer-fleet`): a deploy on ten hosts, a failing step (fail-fast and
//! warn-only), an unreachable host (with and without skipping), a step over its
//! time limit, Ctrl-C, and no ssh process or control socket left after any of them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{finish, project, run_and_check, wait_for};
use deployer_fleet::DEPLOY_PATH;

#[test]
fn deploys_to_ten_hosts_over_ssh() {
    let Some(project) = project(10, "") else { return };
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let first = project.current(0).expect("host 0 has a current release");
    for host in 0..10 {
        assert_eq!(project.current(host).as_deref(), Some(first.as_str()), "host {host}");
        // `current` is an absolute link, meaningful inside the host: read through releases/.
        let app = project.host_file(host, &format!("testing/releases/{first}/app.txt"));
        assert_eq!(std::fs::read_to_string(app).unwrap(), "v1\n");
        assert_eq!(std::fs::read_to_string(project.host_file(host, "restarts")).unwrap(), "restarted\n");
        assert!(!project.host_file(host, "testing/.deployer/lock").exists(), "host {host} still locked");
    }
    assert!(outcome.stderr.contains("done; logs in"), "{}", outcome.stderr);
    let logs: Vec<_> = std::fs::read_dir(project.path().join(".deployer/logs")).unwrap().collect();
    let run_logs = std::fs::read_dir(logs[0].as_ref().unwrap().path()).unwrap().count();
    assert_eq!(run_logs, 10, "one log file per host");
}

#[test]
fn a_failing_step_stops_the_deploy_before_any_switch() {
    let Some(project) = project(4, "") else { return };
    std::fs::write(project.host_file(2, "fail-build"), "").unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("failed; nothing was switched"), "{}", outcome.stderr);
    check_fleet(&project, 4, &outcome, &Expect::nothing_deployed());
    // The unfinished release is removed; complete ones stay, never live, for `resume`.
    for host in 0..4 {
        let releases =
            std::fs::read_dir(project.host_file(host, "testing/releases")).map(|entries| entries.count()).unwrap_or(0);
        assert_eq!(releases, usize::from(host != 2), "host {host}");
    }
}

#[test]
fn warn_only_runs_everywhere_and_still_fails() {
    let Some(project) = project(3, "") else { return };
    std::fs::write(project.host_file(1, "fail-build"), "").unwrap();
    let check = format!("test ! -e {DEPLOY_PATH}/fail-build && touch {DEPLOY_PATH}/ran");
    let outcome = run_and_check(&project, &["--warn-only", "run", "testing", "--", &check]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(project.host_file(0, "ran").exists() && project.host_file(2, "ran").exists());
    let outcome = run_and_check(&project, &["run", "testing", "--", "uname -n"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn an_unreachable_host_stops_the_run_unless_skipped() {
    let Some(mut project) = project(3, "") else { return };
    project.fleet.stop_host(1);
    let touch = format!("touch {DEPLOY_PATH}/ran");
    let outcome = run_and_check(&project, &["run", "testing", "--", &touch]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("unreachable"), "{}", outcome.stderr);
    assert!(!project.host_file(0, "ran").exists(), "nothing runs when a host is unreachable");

    let outcome = run_and_check(&project, &["--skip-bad-hosts", "run", "testing", "--", &touch]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(project.host_file(0, "ran").exists() && project.host_file(2, "ran").exists());
    assert!(outcome.stderr.contains("left out"), "{}", outcome.stderr);
}

#[test]
fn a_step_over_its_time_limit_is_stopped_on_the_host() {
    let Some(project) = project(2, "execution:\n  command_timeout: 2\n") else { return };
    let started = Instant::now();
    let outcome = run_and_check(&project, &["run", "testing", "--", "sleep 47.5"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(outcome.stderr.contains("ran out of time (2s)"), "{}", outcome.stderr);
    let left = Command::new("pgrep").args(["-f", "sleep 47.5"]).output().unwrap();
    assert!(left.stdout.is_empty(), "the remote command outlived its limit");
    check_fleet(&project, 2, &outcome, &Expect::nothing_deployed());
}

#[test]
fn ctrl_c_stops_the_run_and_leaves_nothing_behind() {
    let Some(project) = project(3, "") else { return };
    let child = project
        .deployer()
        .args(["--json", "run", "testing", "--", &format!("touch {DEPLOY_PATH}/started; sleep 3")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for host in 0..3 {
        wait_for(&project.host_file(host, "started"));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let outcome = finish(child);
    assert_eq!(outcome.code, 130);
    check_fleet(&project, 3, &outcome, &Expect::nothing_deployed());
}

#[test]
fn strict_host_key_checking_refuses_an_unknown_host() {
    let Some(project) = project(1, "") else { return };
    std::fs::write(project.fleet.known_hosts(), "").unwrap();
    let outcome = run_and_check(&project, &["run", "testing", "--", "true"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.to_lowercase().contains("host key verification failed"), "{}", outcome.stderr);
}

#[test]
fn a_gateway_reaches_hosts_through_a_jump_host() {
    let Some(project) = project(2, "") else { return };
    let gateway = project.fleet.hosts[0].host_string(&project.fleet.user);
    let target = project.fleet.hosts[1].host_string(&project.fleet.user);
    let touch = format!("touch {DEPLOY_PATH}/via-gateway");
    let outcome = run_and_check(&project, &["--gateway", &gateway, "-H", &target, "run", "testing", "--", &touch]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(project.host_file(1, "via-gateway").exists());
    let outcome =
        run_and_check(&project, &["--gateway=-oProxyCommand=touch /tmp/pwned", "run", "testing", "--", "true"]);
    assert_eq!(outcome.code, 2);
    assert!(outcome.stderr.contains("`--gateway`: invalid host string"), "{}", outcome.stderr);
}

#[test]
fn a_host_that_freezes_mid_step_is_given_up_on_in_bounded_time() {
    let Some(project) = project(3, "execution:\n  command_timeout: 3\n") else { return };
    let child = project
        .deployer()
        .args(["run", "testing", "--", &format!("touch {DEPLOY_PATH}/started; sleep 2")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&project.host_file(1, "started"));
    project.fleet.signal_host(1, "STOP");
    let started = Instant::now();
    let outcome = finish(child);
    let elapsed = started.elapsed();
    project.fleet.signal_host(1, "CONT");
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(elapsed < Duration::from_secs(45), "took {elapsed:?}");
    assert!(outcome.stderr.contains("stopped answering"), "{}", outcome.stderr);
    check_fleet(&project, 3, &outcome, &Expect::nothing_deployed().cut_off(1));
}

#[test]
fn a_frozen_host_at_the_start_is_unreachable_within_the_connect_timeout() {
    let Some(project) = project(2, "") else { return };
    project.fleet.signal_host(1, "STOP");
    let started = Instant::now();
    let outcome = run_and_check(&project, &["run", "testing", "--", "true"]);
    project.fleet.signal_host(1, "CONT");
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("unreachable"), "{}", outcome.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    check_fleet(&project, 2, &outcome, &Expect::nothing_deployed());
}
