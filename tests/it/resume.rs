//! `deployer resume`: a deploy that stopped before its switch continues with the
//! same commit and release id, building only where the release is not complete,
//! and refuses when the fleet moved on or the switch had begun.

use deployer_fleet::DEPLOY_PATH;

use crate::support::invariants::{Expect, check_fleet, lock_id};
use crate::support::project::{
    Project, StderrLines, held_restart_roles, project_with, run_and_check, signal, wait_for, walk,
};

const HOSTS: usize = 3;

/// A build that records each release it builds, and fails where `fail-build` exists.
fn counting_roles() -> String {
    format!(
        "  web:\n\
         \x20   build: \"echo $DEPLOYER_RELEASE >> {DEPLOY_PATH}/builds && test ! -e {DEPLOY_PATH}/fail-build\"\n\
         \x20   restart: \"echo $DEPLOYER_RELEASE >> {DEPLOY_PATH}/restarts\"\n\
         \x20   healthcheck: test -f app.txt\n"
    )
}

/// Deploys once, then ships v2 with host 2's build failing: returns the first
/// release and the one the failed attempt left complete on hosts 0 and 1.
fn failed_attempt(project: &Project) -> (String, String) {
    assert_eq!(run_and_check(project, &["deploy_full", "testing"]).code, 0);
    let first = project.current(0).unwrap();
    project.tick();
    project.next_version("v2\n");
    std::fs::write(project.host_file(2, "fail-build"), "").unwrap();
    let outcome = run_and_check(project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    check_fleet(project, HOSTS, &outcome, &Expect::all_on(&first));
    let attempt = project.lines(0, "builds").last().unwrap().clone();
    assert_ne!(attempt, first);
    for host in 0..2 {
        assert!(
            project.host_file(host, &format!("testing/.deployer/complete/{attempt}")).exists(),
            "host {host}: the complete release is kept for resume"
        );
    }
    assert!(!project.host_file(2, &format!("testing/releases/{attempt}")).exists(), "the unfinished one is removed");
    (first, attempt)
}

#[test]
fn a_failed_prepare_resumes_with_the_same_release_and_no_work_done_twice() {
    let Some(project) = project_with(HOSTS, &counting_roles(), "keep_releases: 3\n") else { return };
    let (_, attempt) = failed_attempt(&project);

    // status names the deploy and the command that continues it.
    let status = run_and_check(&project, &["status", "testing"]);
    assert!(
        status.stdout.contains(&format!("(release {attempt}) stopped before its switch; prepared on 2 of 3 hosts"))
            && status.stdout.contains("`deployer resume testing`"),
        "{}",
        status.stdout
    );
    let json = run_and_check(&project, &["--json", "status", "testing"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["resumable"]["release"], attempt.as_str(), "{json}");
    assert_eq!(json["resumable"]["remaining"].as_array().unwrap().len(), 1, "{json}");

    // Fixed; resumed later (a new clock second: the release id must not change).
    std::fs::remove_file(project.host_file(2, "fail-build")).unwrap();
    project.tick();
    let outcome = run_and_check(&project, &["resume", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("complete on 2 of 3 hosts, building on"), "{}", outcome.stderr);
    check_fleet(&project, HOSTS, &outcome, &Expect::all_on(&attempt));
    for host in 0..2 {
        assert_eq!(
            project.lines(host, "builds").iter().filter(|built| **built == attempt).count(),
            1,
            "host {host} built the release once, in the first attempt"
        );
        assert_eq!(project.lines(host, "restarts").last(), Some(&attempt), "host {host} restarted on it");
    }
    assert_eq!(project.lines(2, "builds").iter().filter(|built| **built == attempt).count(), 2);
    // The logs say which hosts were not built again.
    let logs: String = walk(&project.path().join(".deployer/logs"))
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap_or_default())
        .collect();
    assert_eq!(logs.matches("is already prepared on this host; not built again").count(), 2, "{logs}");

    // Nothing is left to resume.
    let status = run_and_check(&project, &["status", "testing"]);
    assert!(!status.stdout.contains("resumable"), "{}", status.stdout);
    let again = run_and_check(&project, &["resume", "testing"]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("no deploy to resume"), "{}", again.stderr);
}

#[test]
fn resume_refuses_when_a_host_was_deployed_meanwhile() {
    let Some(project) = project_with(HOSTS, &counting_roles(), "keep_releases: 3\n") else { return };
    let (_, attempt) = failed_attempt(&project);
    // Someone fixes host 2 and ships v3 to it alone.
    std::fs::remove_file(project.host_file(2, "fail-build")).unwrap();
    project.tick();
    project.next_version("v3\n");
    let host = project.fleet.hosts[2].host_string(&project.fleet.user);
    let alone = run_and_check(&project, &["-H", &host, "deploy_full", "testing"]);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    let other = project.current(2).unwrap();

    let before: Vec<_> = (0..HOSTS).map(|host| project.current(host)).collect();
    let outcome = run_and_check(&project, &["resume", "testing", &attempt]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("the fleet moved on")
            && outcome.stderr.contains(&format!("{other} went live after the attempt")),
        "{}",
        outcome.stderr
    );
    let after: Vec<_> = (0..HOSTS).map(|host| project.current(host)).collect();
    assert_eq!(before, after, "nothing changed");
    assert!(project.host_file(0, &format!("testing/.deployer/complete/{attempt}")).exists());
}

#[test]
fn resume_never_guesses_after_the_switch_began() {
    let Some(project) = project_with(HOSTS, &held_restart_roles(), "keep_releases: 3\n") else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    project.tick();
    project.next_version("v2\n");
    project.kill_deploy_after_the_switch(|| {});
    let new = project.current(0).unwrap();

    let status = run_and_check(&project, &["status", "testing"]);
    assert!(status.stdout.contains(&format!("the switch to {new} began and did not finish")), "{}", status.stdout);
    let outcome = run_and_check(&project, &["resume", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("resume does not guess") && outcome.stderr.contains("rollback"),
        "{}",
        outcome.stderr
    );
    assert_eq!(project.current(0).unwrap(), new, "nothing changed");
}

#[test]
fn a_deploy_stopped_by_two_ctrl_c_resumes_after_its_lock_is_released() {
    // Host 0 builds at once; host 1 waits at its gate until `go` exists.
    let roles = format!(
        "  web:\n\
         \x20   build: \"echo $DEPLOYER_RELEASE >> {DEPLOY_PATH}/builds; touch {DEPLOY_PATH}/building; while [ ! -e {DEPLOY_PATH}/go ]; do sleep 0.05; done\"\n\
         \x20   restart: \"true\"\n\
         \x20   healthcheck: test -f app.txt\n"
    );
    let Some(project) = project_with(2, &roles, "execution:\n  command_timeout: 30\n") else { return };
    std::fs::write(project.host_file(0, "go"), "").unwrap();
    let mut child = project.spawn(&["deploy_full", "testing"]);
    let said = StderrLines::follow(&mut child);
    wait_for(&project.host_file(1, "building"));
    let complete = project.host_file(0, "testing/.deployer/complete");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_dir(&complete).map_or(0, Iterator::count) == 0 {
        assert!(std::time::Instant::now() < deadline, "host 0 never finished its prepare");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    signal(child.id(), "INT");
    said.wait_for_line(|line| line.starts_with("stopping (Ctrl-C)"));
    signal(child.id(), "INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{}", said.all());
    let attempt = project.lines(0, "builds")[0].clone();
    // sshd ends the killed run's build on host 1: its release stays unfinished.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !project.fleet.host_processes(1).is_empty() {
        assert!(std::time::Instant::now() < deadline, "host 1's build still runs");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(project.host_file(1, &format!("testing/releases/{attempt}")).is_dir());
    assert!(!project.host_file(1, &format!("testing/.deployer/complete/{attempt}")).exists());

    // The dead run's lock is still there: resume says so and how to free it.
    let refused = run_and_check(&project, &["resume", "testing"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let id = lock_id(&project, 0).unwrap();
    assert!(refused.stderr.contains(&format!("deployer lock release testing --id {id}")), "{}", refused.stderr);
    assert_eq!(run_and_check(&project, &["lock", "release", "testing", "--id", &id]).code, 0);

    std::fs::write(project.host_file(1, "go"), "").unwrap();
    project.tick();
    let outcome = run_and_check(&project, &["resume", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::all_on(&attempt));
    assert_eq!(project.lines(0, "builds"), std::slice::from_ref(&attempt), "host 0 did not build again");
    assert_eq!(project.lines(1, "builds"), [attempt.clone(), attempt], "host 1 rebuilt its unfinished release");
}
