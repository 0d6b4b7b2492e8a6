//! Faults on real sshd hosts with small disks: a full disk and exhausted inodes
//! during prepare and at the switch, and a failing migration. After each, the
//! fleet must be exactly as it was, and nothing of the failed run may be left.

mod support;

use std::io::Write;

use deployer_fleet::DEPLOY_PATH;
use support::project::{Project, project_on_disks, run_and_check, signal, wait_for};

const MEGABYTES: u32 = 24;
const INODES: u32 = 4000;

fn roles() -> String {
    "  web:\n\
         \x20   restart: \"true\"\n\
         \x20   healthcheck: test -f app.txt\n"
        .to_string()
}

/// Every invariant after a failed run: each host on `release` (complete), no lock,
/// no temporary link or file, no unfinished release, the maintenance page down.
fn fleet_is_intact(project: &Project, hosts: usize, release: &str) {
    for host in 0..hosts {
        assert_eq!(project.current(host).as_deref(), Some(release), "host {host} is not on {release}");
        assert!(
            project.host_file(host, &format!("testing/.deployer/complete/{release}")).exists(),
            "host {host}: not complete"
        );
        assert!(!project.host_file(host, "testing/.deployer/lock").exists(), "host {host}: lock left");
        assert!(!project.host_file(host, "testing/.current.deployer-tmp").exists(), "host {host}: temporary link left");
        assert!(!project.host_file(host, "testing/maintenance/503.html").exists(), "host {host}: maintenance page up");
        let releases: Vec<String> = std::fs::read_dir(project.host_file(host, "testing/releases"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(releases, [release.to_owned()], "host {host}: leftovers in releases/");
    }
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
    fleet_is_intact(project, hosts, &release);
    release
}

fn next_version(project: &Project, text: &str) {
    project.commit(text);
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

#[test]
fn a_full_disk_during_prepare_changes_nothing() {
    let Some(project) = project_on_disks(3, &roles(), "", Some((MEGABYTES, INODES))) else { return };
    let first = deployed(&project, 3);
    let filler = fill_disk(&project, 1);
    next_version(&project, "v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    std::fs::remove_file(filler).unwrap();
    fleet_is_intact(&project, 3, &first);
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "with space again the deploy works: {}", outcome.stderr);
}

#[test]
fn exhausted_inodes_during_prepare_change_nothing() {
    let Some(project) = project_on_disks(2, &roles(), "", Some((MEGABYTES, INODES))) else { return };
    let first = deployed(&project, 2);
    let files = exhaust_inodes(&project, 0);
    next_version(&project, "v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    std::fs::remove_dir_all(files).unwrap();
    fleet_is_intact(&project, 2, &first);
}

#[test]
fn a_full_disk_at_the_switch_switches_everyone_back() {
    // The migration (on host 0) waits for a `go` file: the gate where host 1's disk fills.
    let extra = format!(
        "migrate:\n  role: web\n  command: \"touch {DEPLOY_PATH}/gated; while [ ! -e {DEPLOY_PATH}/go ]; do sleep 0.05; done; rm -f {DEPLOY_PATH}/go\"\n"
    );
    let Some(project) = project_on_disks(3, &roles(), &extra, Some((MEGABYTES, INODES))) else { return };
    std::fs::write(project.host_file(0, "go"), "").unwrap();
    let first = deployed(&project, 3);
    std::fs::remove_file(project.host_file(0, "gated")).unwrap();

    next_version(&project, "v2\n");
    let child = project.spawn(&["deploy_full", "testing"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !project.host_file(0, "gated").exists() {
        assert!(std::time::Instant::now() < deadline, "the migration never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let filler = fill_disk(&project, 1);
    std::fs::write(project.host_file(0, "go"), "").unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    support::project::nothing_left_behind(pid);
    assert_eq!(output.status.code(), Some(3), "rolled back: {stderr}");
    std::fs::remove_file(filler).unwrap();
    fleet_is_intact(&project, 3, &first);
}

#[test]
fn a_failing_migration_changes_nothing() {
    let extra = "migrate:\n  role: web\n  command: \"echo 'relation already exists' >&2; exit 1\"\nstatic_html:\n  upgrade_message: 503.html\n  healthcheck_override: healthcheck.html\n";
    let Some(project) = project_on_disks(3, &roles(), "", None) else { return };
    let first = deployed(&project, 3);
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    std::fs::write(project.path().join("fabulaws-config.yml"), format!("{extra}{config}")).unwrap();
    next_version(&project, "v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("relation already exists"), "the migration's error is shown: {}", outcome.stderr);
    fleet_is_intact(&project, 3, &first);
}

#[test]
fn the_link_cut_during_prepare_leaves_the_other_hosts_intact() {
    let roles = format!(
        "  web:\n\
         \x20   build: \"touch {DEPLOY_PATH}/building; while [ ! -e {DEPLOY_PATH}/go ]; do sleep 0.05; done\"\n\
         \x20   restart: \"true\"\n\
         \x20   healthcheck: test -f app.txt\n"
    );
    let Some(project) = project_on_disks(3, &roles, "", None) else { return };
    for host in 0..3 {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let first = deployed(&project, 3);
    for host in 0..3 {
        std::fs::remove_file(project.host_file(host, "go")).unwrap();
        std::fs::remove_file(project.host_file(host, "building")).unwrap();
    }
    next_version(&project, "v2\n");
    let child = project.spawn(&["deploy_full", "testing"]);
    for host in 0..3 {
        wait_for(&project.host_file(host, "building"));
    }
    project.fleet.signal_host(1, "KILL");
    for host in [0, 2] {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    support::project::nothing_left_behind(pid);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed; nothing was switched"), "{stderr}");
    for host in [0, 2] {
        assert_eq!(project.current(host).as_deref(), Some(first.as_str()));
        assert!(!project.host_file(host, "testing/.deployer/lock").exists(), "host {host}: lock left");
        assert_eq!(
            std::fs::read_dir(project.host_file(host, "testing/releases")).unwrap().count(),
            1,
            "host {host}: leftovers"
        );
    }
    // The cut host still serves the release it had; its lock is reported, not hidden.
    assert_eq!(project.current(1).as_deref(), Some(first.as_str()));
    assert!(stderr.contains(&project.fleet.hosts[1].address.to_string()), "the cut host is named: {stderr}");
}

#[test]
fn ctrl_c_after_the_switch_switches_everyone_back() {
    let roles = format!(
        "  web:\n\
         \x20   restart: \"if [ -e {DEPLOY_PATH}/hold ]; then touch {DEPLOY_PATH}/holding; while [ -e {DEPLOY_PATH}/hold ]; do sleep 0.05; done; fi\"\n\
         \x20   healthcheck: test -f app.txt\n"
    );
    let Some(project) = project_on_disks(3, &roles, "", None) else { return };
    let first = deployed(&project, 3);
    next_version(&project, "v2\n");
    std::fs::write(project.host_file(0, "hold"), "").unwrap();
    let child = project.spawn(&["deploy_full", "testing"]);
    wait_for(&project.host_file(0, "holding"));
    signal(child.id(), "INT");
    std::fs::remove_file(project.host_file(0, "hold")).unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    support::project::nothing_left_behind(pid);
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    for host in 0..3 {
        assert_eq!(project.current(host).as_deref(), Some(first.as_str()), "host {host} was not switched back");
        assert!(!project.host_file(host, "testing/.deployer/lock").exists(), "host {host}: lock left");
    }
}

#[test]
fn a_read_only_disk_during_prepare_changes_nothing() {
    let Some(project) = project_on_disks(2, &roles(), "", None) else { return };
    let first = deployed(&project, 2);
    next_version(&project, "v2\n");
    project.fleet.set_read_only(1, true).unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    project.fleet.set_read_only(1, false).unwrap();
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.to_lowercase().contains("read-only"), "{}", outcome.stderr);
    fleet_is_intact(&project, 2, &first);
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_runs() {
    let Some(project) = project_on_disks(2, &roles(), "", None) else { return };
    let first = deployed(&project, 2);
    project.fleet.change_host_key(1).unwrap();
    next_version(&project, "v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let text = outcome.stderr.to_lowercase();
    assert!(text.contains("host key") && text.contains("unreachable"), "{}", outcome.stderr);
    fleet_is_intact(&project, 2, &first);
}
