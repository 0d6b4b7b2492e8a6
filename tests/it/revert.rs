//! The hosts' dead-man's switch (`auto_revert_after`): armed before the switch,
//! confirmed at the end of a deploy, and fired by the hosts themselves when the
//! machine running deployer dies in between.

use crate::support::project::{held_restart_roles, project_with, run_and_check};

const HOSTS: usize = 3;

#[test]
fn a_controller_killed_after_the_switch_is_reverted_by_the_hosts_themselves() {
    let Some(project) = project_with(HOSTS, &held_restart_roles(), "auto_revert_after: 5\nkeep_releases: 3\n") else {
        return;
    };
    let check = run_and_check(&project, &["check"]);
    assert!(check.stdout.contains("testing: hosts revert a deploy not confirmed within 5s"), "{}", check.stdout);
    let plan = run_and_check(&project, &["plan", "deploy_full", "testing"]);
    assert!(plan.stdout.contains("arm the dead-man's switch (5s) [arm_revert"), "{}", plan.stdout);
    assert!(plan.stdout.contains("confirm the deploy (disarm the dead-man's switch)"), "{}", plan.stdout);

    // A deploy that finishes confirms itself: its switch never fires (checked below,
    // long after its window).
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let first = project.current(0).unwrap();

    // The next deploy's controller dies after the switch, while host 0 restarts.
    project.next_version("v2\n");
    project.kill_deploy_after_the_switch(|| {
        assert_ne!(project.current(0).unwrap(), first, "the switch happened");
        let status = run_and_check(&project, &["status", "testing"]);
        assert_eq!(
            status.stdout.matches("a dead-man's switch is armed for deploy").count(),
            HOSTS,
            "{}",
            status.stdout
        );
    });

    // Nobody acts: within the window and a few seconds, every host is back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (0..HOSTS).any(|host| project.current(host).as_deref() != Some(first.as_str())) {
        assert!(
            std::time::Instant::now() < deadline,
            "not reverted: {:?}",
            (0..HOSTS).map(|h| project.current(h)).collect::<Vec<_>>()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for host in 0..HOSTS {
        let log = std::fs::read_to_string(project.host_file(host, "testing/.deployer/revert/log")).unwrap_or_default();
        assert_eq!(log.matches("reverting").count(), 1, "host {host}: one revert, the killed deploy's:\n{log}");
        assert!(log.contains("not confirmed within 5s"), "{log}");
    }
    let status = run_and_check(&project, &["status", "testing"]);
    assert!(!status.stdout.contains("armed"), "fired switches are not armed: {}", status.stdout);
    // The dead run's lock went with it: the next deploy starts without help.
    assert!(!project.host_file(0, "testing/.deployer/lock").exists(), "the dead run's lock was released");
    project.tick();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}
