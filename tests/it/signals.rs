//! Every way a controller is asked to stop, and the lock every changing command
//! takes. SIGTERM (a cancelled CI job) and
//! SIGHUP (a closed terminal) are handled as Ctrl-C is: no new steps, undo,
//! unlock, exit 130, and the fleet as it was.

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{finish, gated_build_roles, project_with, signal, wait_for};

fn stopped_during_prepare(name: &str) {
    let Some(project) = project_with(2, &gated_build_roles(), "execution:\n  command_timeout: 30\n") else { return };
    let child = project.spawn(&["deploy_full", "testing"]);
    for host in 0..2 {
        wait_for(&project.host_file(host, "building"));
    }
    signal(child.id(), name);
    for host in 0..2 {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let outcome = finish(child);
    assert_eq!(outcome.code, 130, "SIG{name}: {}", outcome.stderr);
    let said = format!("stopping (SIG{name}): no new steps start; waiting for 2 running steps, then undoing what ran");
    assert!(outcome.stderr.contains(&said), "{}", outcome.stderr);
    // The summary says what became of each host, never `ok`.
    assert_eq!(outcome.stderr.matches("  undone\n").count(), 2, "{}", outcome.stderr);
    assert!(!outcome.stderr.lines().any(|line| line.ends_with("  ok")), "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::nothing_deployed());
    // The builds finished, so the releases are complete (check_fleet allows no
    // unfinished one): kept, never live, and `resume` can continue the deploy.
    let status = crate::support::project::run_and_check(&project, &["status", "testing"]);
    assert!(status.stdout.contains("stopped before its switch; prepared on 2 of 2 hosts"), "{}", status.stdout);
    for host in 0..2 {
        assert!(!project.host_file(host, "testing/.deployer/lock").exists(), "SIG{name}: host {host} kept the lock");
    }
}

#[test]
fn sigterm_during_prepare_is_handled_like_ctrl_c() {
    stopped_during_prepare("TERM");
}

#[test]
fn sighup_during_prepare_is_handled_like_ctrl_c() {
    stopped_during_prepare("HUP");
}

#[test]
fn upgrade_pages_and_passwords_wait_for_the_lock_like_deploys() {
    let extra = "static_html:\n  upgrade_message: 503.html\n  healthcheck_override: healthcheck.html\nexecution:\n  command_timeout: 30\n";
    let Some(project) = project_with(2, &gated_build_roles(), extra) else { return };
    let deploy = project.spawn(&["deploy_full", "testing"]);
    for host in 0..2 {
        wait_for(&project.host_file(host, "building"));
    }
    let refused = crate::support::project::run_and_check(&project, &["begin_upgrade", "testing"]);
    assert_eq!(refused.code, 5, "begin_upgrade while a deploy runs: {}", refused.stderr);
    for host in 0..2 {
        assert!(!project.host_file(host, "testing/maintenance/503.html").exists(), "host {host}: page went up");
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let deployed = finish(deploy);
    assert_eq!(deployed.code, 0, "{}", deployed.stderr);
    let up = crate::support::project::run_and_check(&project, &["begin_upgrade", "testing"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let status = crate::support::project::run_and_check(&project, &["status", "testing"]);
    assert!(status.stdout.contains("the maintenance page is up on: "), "{}", status.stdout);
    let down = crate::support::project::run_and_check(&project, &["end_upgrade", "testing"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    for host in 0..2 {
        assert!(!project.host_file(host, "testing/.deployer/lock").exists(), "host {host}: lock left");
    }
}

#[test]
fn a_step_left_running_by_a_killed_controller_is_stopped_on_its_host() {
    let roles = "  web:\n    build: \"touch /srv/deployer-fleet/building; sleep 41.3\"\n";
    let Some(project) = project_with(2, roles, "execution:\n  command_timeout: 120\n") else { return };
    let mut child = project.spawn(&["deploy_full", "testing"]);
    for host in 0..2 {
        wait_for(&project.host_file(host, "building"));
    }
    signal(child.id(), "KILL");
    child.wait().unwrap();
    // The step's limit is 120 s; its session is gone now, so it must stop within seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for host in 0..2 {
        loop {
            let running: Vec<String> =
                project.fleet.host_processes(host).into_iter().filter(|line| line.contains("sleep 41.3")).collect();
            if running.is_empty() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "host {host} still runs the step: {running:?}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    crate::support::project::clean_up_killed(child.id());
}
