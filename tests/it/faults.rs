//! Faults on real sshd hosts: a full disk and exhausted inodes during prepare and
//! at the switch, a failing migration, a host killed during prepare, Ctrl-C after
//! the switch, a read-only disk and a changed host key. After each, the one
//! invariant checker (`crate::support::invariants`) checks the whole fleet, including
//! that the project's secret never left its files.

use std::io::Write;

use crate::support::invariants::{CANARY_CONFIG, Expect, check_fleet, plant_canary};
use crate::support::project::{
    Project, finish, gated_build_roles, held_restart_roles, project_on_disks, run_and_check, signal, wait_for,
};
use deployer_fleet::DEPLOY_PATH;

const MEGABYTES: u32 = 24;
const INODES: u32 = 4000;

/// A project on `hosts` hosts, with a secret whose value must never leave its files.
fn faulty(hosts: usize, roles: &str, extra: &str, small_disk: Option<(u32, u32)>) -> Option<Project> {
    let project = project_on_disks(hosts, roles, &format!("{CANARY_CONFIG}{extra}"), small_disk)?;
    plant_canary(&project);
    Some(project)
}

fn roles() -> String {
    "  web:\n\
         \x20   restart: \"true\"\n\
         \x20   healthcheck: test -f app.txt\n"
        .to_string()
}

/// Fills a host's disk; returns the filler's path (remove it to free the space).
fn fill_disk(project: &Project, host: usize) -> std::path::PathBuf {
    let path = project.host_file(host, "filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.flush();
    path
}

/// Uses up a host's inodes; returns the directory holding the files.
fn exhaust_inodes(project: &Project, host: usize) -> std::path::PathBuf {
    let directory = project.host_file(host, "inodes");
    std::fs::create_dir_all(&directory).unwrap();
    let mut number = 0u32;
    while std::fs::File::create(directory.join(number.to_string())).is_ok() {
        number += 1;
    }
    directory
}

fn deployed(project: &Project, hosts: usize) -> String {
    let outcome = run_and_check(project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(0).unwrap();
    check_fleet(project, hosts, &outcome, &Expect::all_on(&release));
    release
}

#[test]
fn a_full_disk_during_prepare_changes_nothing() {
    let Some(project) = faulty(3, &roles(), "", Some((MEGABYTES, INODES))) else { return };
    let first = deployed(&project, 3);
    let filler = fill_disk(&project, 1);
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    std::fs::remove_file(filler).unwrap();
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first));
    // A second later: the hosts that prepared keep their complete release (for
    // `deployer resume`), so a retry in the same second would make the same id.
    project.tick();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "with space again the deploy works: {}", outcome.stderr);
}

#[test]
fn exhausted_inodes_during_prepare_change_nothing() {
    let Some(project) = faulty(2, &roles(), "", Some((MEGABYTES, INODES))) else { return };
    let first = deployed(&project, 2);
    let files = exhaust_inodes(&project, 0);
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    std::fs::remove_dir_all(files).unwrap();
    check_fleet(&project, 2, &outcome, &Expect::all_on(&first));
}

#[test]
fn a_full_disk_at_the_switch_switches_everyone_back() {
    at_the_switch(|project| {
        let filler = fill_disk(project, 1);
        Box::new(move || std::fs::remove_file(filler).unwrap())
    });
}

#[test]
fn exhausted_inodes_at_the_switch_switch_everyone_back() {
    at_the_switch(|project| {
        let files = exhaust_inodes(project, 1);
        Box::new(move || std::fs::remove_dir_all(files).unwrap())
    });
}

/// Injects `fault` on host 1 while the migration (on host 0, just before the
/// switch) waits at its gate; the deploy must switch every host back. `fault`
/// returns what undoes it.
fn at_the_switch(fault: impl Fn(&Project) -> Box<dyn FnOnce()>) {
    let extra = format!(
        "migrate:\n  role: web\n  command: \"touch {DEPLOY_PATH}/gated; while [ ! -e {DEPLOY_PATH}/go ]; do sleep 0.05; done; rm -f {DEPLOY_PATH}/go\"\n"
    );
    let Some(project) = faulty(3, &roles(), &extra, Some((MEGABYTES, INODES))) else { return };
    std::fs::write(project.host_file(0, "go"), "").unwrap();
    let first = deployed(&project, 3);
    std::fs::remove_file(project.host_file(0, "gated")).unwrap();

    project.next_version("v2\n");
    let child = project.spawn(&["deploy_full", "testing"]);
    wait_for(&project.host_file(0, "gated"));
    let undo_fault = fault(&project);
    std::fs::write(project.host_file(0, "go"), "").unwrap();
    let outcome = finish(child);
    undo_fault();
    assert_eq!(outcome.code, 3, "rolled back: {}", outcome.stderr);
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first));
}

#[test]
fn a_failing_migration_changes_nothing() {
    let extra = "migrate:\n  role: web\n  command: \"echo 'relation already exists' >&2; exit 1\"\nstatic_html:\n  upgrade_message: 503.html\n  healthcheck_override: healthcheck.html\n";
    let Some(project) = faulty(3, &roles(), "", None) else { return };
    let first = deployed(&project, 3);
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    std::fs::write(project.path().join("fabulaws-config.yml"), format!("{extra}{config}")).unwrap();
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("relation already exists"), "the migration's error is shown: {}", outcome.stderr);
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first));
}

#[test]
fn a_host_killed_during_prepare_leaves_the_other_hosts_intact() {
    let roles = gated_build_roles();
    let Some(project) = faulty(3, &roles, "", None) else { return };
    for host in 0..3 {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let first = deployed(&project, 3);
    for host in 0..3 {
        std::fs::remove_file(project.host_file(host, "go")).unwrap();
        std::fs::remove_file(project.host_file(host, "building")).unwrap();
    }
    project.next_version("v2\n");
    let child = project.spawn(&["deploy_full", "testing"]);
    for host in 0..3 {
        wait_for(&project.host_file(host, "building"));
    }
    project.fleet.signal_host(1, "KILL");
    for host in [0, 2] {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let outcome = finish(child);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("failed; nothing was switched"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains(&project.fleet.hosts[1].address.to_string()), "the killed host is named");
    // The killed host still serves the release it had; its lock is reported, not hidden.
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first).cut_off(1));
}

#[test]
fn ctrl_c_after_the_switch_switches_everyone_back() {
    let roles = held_restart_roles();
    let Some(project) = faulty(3, &roles, "", None) else { return };
    let first = deployed(&project, 3);
    project.next_version("v2\n");
    std::fs::write(project.host_file(0, "hold"), "").unwrap();
    let child = project.spawn(&["deploy_full", "testing"]);
    wait_for(&project.host_file(0, "holding"));
    signal(child.id(), "INT");
    std::fs::remove_file(project.host_file(0, "hold")).unwrap();
    let outcome = finish(child);
    assert_eq!(outcome.code, 130, "{}", outcome.stderr);
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first));
}

#[test]
fn a_read_only_disk_during_prepare_changes_nothing() {
    let Some(project) = faulty(2, &roles(), "", None) else { return };
    let first = deployed(&project, 2);
    project.next_version("v2\n");
    project.fleet.set_read_only(1, true).unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    project.fleet.set_read_only(1, false).unwrap();
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.to_lowercase().contains("read-only"), "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::all_on(&first));
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_runs() {
    let Some(project) = faulty(2, &roles(), "", None) else { return };
    let first = deployed(&project, 2);
    project.fleet.change_host_key(1).unwrap();
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let text = outcome.stderr.to_lowercase();
    assert!(text.contains("host key") && text.contains("unreachable"), "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::all_on(&first));
}
