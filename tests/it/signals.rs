//! Every way a controller is asked to stop: SIGTERM (a cancelled CI job) and
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
    assert!(outcome.stderr.contains("interrupted: no new steps start"), "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::nothing_deployed());
    for host in 0..2 {
        let releases = std::fs::read_dir(project.host_file(host, "testing/releases")).unwrap().count();
        assert_eq!(releases, 0, "SIG{name}: host {host} kept the unfinished release");
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
