//! Releases on a real fleet follow each host's history, never release ids or
//! clocks; a release is never shared by two deploys; a host that Capistrano laid
//! out is adopted, restored exactly, and its releases kept.

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{Project, project_with, run_and_check};

/// A health check that fails while `fail-health` exists on the host.
const ROLES: &str = "  web:\n    restart: \"true\"\n    healthcheck: \"test ! -e /srv/deployer-fleet/fail-health\"\n";

fn deploy(project: &Project, version: &str) -> String {
    project.next_version(version);
    let outcome = run_and_check(project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    project.current(0).unwrap()
}

fn status(project: &Project) -> serde_json::Value {
    let outcome = run_and_check(project, &["--json", "status", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    serde_json::from_str(&outcome.stdout).unwrap()
}

#[test]
fn rollback_after_a_rollback_and_a_deploy_goes_to_the_release_live_before() {
    let Some(project) = project_with(2, ROLES, "") else { return };
    let v2 = deploy(&project, "v2\n");
    let v3 = deploy(&project, "v3\n");
    let outcome = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(project.current(1).as_deref(), Some(v2.as_str()));
    let v4 = deploy(&project, "v4\n");
    let outcome = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    for host in 0..2 {
        assert_eq!(project.current(host).as_deref(), Some(v2.as_str()), "host {host}: not v3 ({v3}) nor v4 ({v4})");
    }
    check_fleet(&project, 2, &outcome, &Expect::all_on(&v2));
}

#[test]
fn a_controller_clock_behind_the_last_deploy_changes_nothing_about_order() {
    let Some(project) = project_with(2, ROLES, "") else { return };
    project.set_clock(3600);
    let later = deploy(&project, "first\n");
    // An hour earlier: this release's id sorts before the live one's.
    project.set_clock(0);
    let earlier = deploy(&project, "v2\n");
    assert!(earlier < later, "the ids sort the other way round: {earlier} {later}");
    let status = status(&project);
    assert_eq!(status["hosts"][0]["current"], earlier.as_str());
    assert_eq!(status["hosts"][0]["previous"], later.as_str());
    // Pruning keeps what went live last, and rollback goes to what was live before.
    let outcome = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::all_on(&later));
}

#[test]
fn after_an_undone_deploy_previous_is_the_real_previous_release() {
    let Some(project) = project_with(2, ROLES, "") else { return };
    let v1 = deploy(&project, "first\n");
    let v2 = deploy(&project, "v2\n");
    std::fs::write(project.host_file(1, "fail-health"), "").unwrap();
    project.next_version("v3\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    let status = status(&project);
    for host in 0..2 {
        assert_eq!(status["hosts"][host]["current"], v2.as_str(), "host {host}");
        assert_eq!(status["hosts"][host]["previous"], v1.as_str(), "host {host}: previous must not be current");
    }
    check_fleet(&project, 2, &outcome, &Expect::all_on(&v2));
}

#[test]
fn the_same_commit_twice_in_one_second_is_refused_and_changes_nothing() {
    let Some(project) = project_with(2, ROLES, "") else { return };
    let live = deploy(&project, "first\n");
    // Same commit, same second: the same release id.
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("already exists on this host"), "{}", outcome.stderr);
    for host in 0..2 {
        assert!(project.current_file(host, "app.txt").is_some(), "host {host}: the live release lost its files");
    }
    check_fleet(&project, 2, &outcome, &Expect::all_on(&live));
}

/// Lays out host `host` as Capistrano leaves it: releases, shared, and `current`
/// pointing into releases/ (relative, as Deployer-PHP makes it), no deployer files.
fn capistrano_layout(project: &Project, host: usize) {
    let release = project.host_file(host, "testing/releases/20240101120000");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(release.join("app.txt"), "capistrano\n").unwrap();
    std::fs::create_dir_all(project.host_file(host, "testing/shared")).unwrap();
    std::os::unix::fs::symlink("releases/20240101120000", project.host_file(host, "testing/current")).unwrap();
    let owner = std::process::Command::new("chown")
        .args(["-R", &format!("{}:", project.fleet.user)])
        .arg(project.host_file(host, "testing"))
        .status()
        .unwrap();
    assert!(owner.success());
}

#[test]
fn a_capistrano_host_is_adopted_restored_exactly_and_its_release_kept() {
    let Some(project) = project_with(2, ROLES, "keep_releases: 1\n") else { return };
    for host in 0..2 {
        capistrano_layout(&project, host);
    }
    // A failed first deploy puts `current` back exactly where it pointed.
    std::fs::write(project.host_file(0, "fail-health"), "").unwrap();
    project.next_version("first\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    for host in 0..2 {
        let link = std::fs::read_link(project.host_file(host, "testing/current")).unwrap();
        assert_eq!(link, std::path::Path::new("releases/20240101120000"), "host {host}");
    }
    check_fleet(&project, 2, &outcome, &Expect::all_on("20240101120000"));
    let status = status(&project);
    assert_eq!(status["hosts"][0]["current"], "20240101120000 (foreign)");
    assert_eq!(status["hosts"][0]["foreign"][0], "20240101120000");

    // Successful deploys (keep_releases: 1) never prune what deployer did not make.
    std::fs::remove_file(project.host_file(0, "fail-health")).unwrap();
    let first = deploy(&project, "v2\n");
    let second = deploy(&project, "v3\n");
    assert_ne!(first, second);
    let outcome = run_and_check(&project, &["status", "testing"]);
    check_fleet(&project, 2, &outcome, &Expect::all_on(&second));
    for host in 0..2 {
        assert!(project.host_file(host, "testing/releases/20240101120000/app.txt").exists(), "host {host}");
    }
}

#[test]
fn values_read_back_from_a_host_cannot_drive_the_terminal() {
    let Some(project) = project_with(1, ROLES, "") else { return };
    let live = deploy(&project, "first\n");
    // A hostile or damaged host: a lock record and a history line full of escape
    // sequences, and a `current` that points somewhere odd.
    let lock = project.host_file(0, "testing/.deployer/lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(lock.join("owner"), "id=x\u{1b}[2J\nuser=\u{1b}]0;owned\u{7}\ncontroller=\u{1b}[31mred\npid=1\n")
        .unwrap();
    let history = project.host_file(0, "testing/.deployer/history");
    let mut text = std::fs::read_to_string(&history).unwrap();
    text.push_str("v2\tevent=deployed\tuser=\u{1b}[5m\trelease=\u{1b}[1mbold\n");
    std::fs::write(&history, text).unwrap();
    for args in [&["status", "testing"][..], &["lock", "status", "testing"], &["--json", "status", "testing"]] {
        let outcome = run_and_check(&project, args);
        let said = outcome.stdout + &outcome.stderr;
        assert!(!said.contains('\u{1b}') && !said.contains('\u{7}'), "{args:?} let a control byte through:\n{said:?}");
        if args[0] != "lock" {
            assert!(said.contains(&live), "{args:?}: {said}");
        }
    }
    std::fs::remove_dir_all(&lock).unwrap();
}

/// Runs `deployer ARGS` from the application's own checkout (where the
/// configuration lives in a real project), so `plan` can read the commit range.
fn from_checkout(project: &Project, args: &[&str]) -> crate::support::Outcome {
    let child = project
        .deployer()
        .current_dir(project.path().join("source"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::support::project::finish(child)
}

#[test]
fn every_run_is_in_the_audit_log_and_plan_says_what_ships_since_the_last_deploy() {
    let Some(project) = project_with(2, ROLES, "") else { return };
    let source = project.path().join("source");
    std::fs::copy(project.path().join("fabulaws-config.yml"), source.join("fabulaws-config.yml")).unwrap();
    let first = from_checkout(&project, &["deploy_full", "testing"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let release = project.current(0).unwrap();
    let shipped = crate::support::git(&source, &["rev-parse", "HEAD"]);

    // Two commits later, one with a migration: the plan lists them.
    project.next_version("v2\n");
    std::fs::create_dir_all(source.join("shop/migrations")).unwrap();
    std::fs::write(source.join("shop/migrations/0002_price.py"), "").unwrap();
    crate::support::git(&source, &["add", "shop"]);
    crate::support::git(&source, &["commit", "-q", "-m", "add the price column"]);
    let plan = from_checkout(&project, &["plan", "deploy_full", "testing"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let expected = format!(
        "ships: 2 commits since the last deploy from this machine ({}, release {release}):\n  add the price column\n  v2\n  migration files changed: shop/migrations/0002_price.py\n",
        &shipped[..7]
    );
    assert!(plan.stdout.contains(&expected), "{}", plan.stdout);
    let json = from_checkout(&project, &["--json", "plan", "deploy_full", "testing"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["shipping"]["commits"], 2, "{json}");

    // A failing run is recorded too, and does not count as shipped.
    std::fs::write(project.host_file(0, "fail-health"), "").unwrap();
    assert_eq!(from_checkout(&project, &["deploy_full", "testing"]).code, 3);
    std::fs::remove_file(project.host_file(0, "fail-health")).unwrap();
    let plan = from_checkout(&project, &["plan", "deploy_full", "testing"]);
    assert!(plan.stdout.contains("ships: 2 commits since"), "{}", plan.stdout);
    assert_eq!(from_checkout(&project, &["run", "testing", "--", "true"]).code, 0);

    let log = std::fs::read_to_string(source.join(".deployer/audit.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = log.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let summary: Vec<(&str, &str)> =
        entries.iter().map(|entry| (entry["command"].as_str().unwrap(), entry["result"].as_str().unwrap())).collect();
    assert_eq!(summary, [("deploy_full", "success"), ("deploy_full", "rolled_back"), ("run", "success")]);
    assert_eq!(entries[0]["commit"], shipped.as_str());
    assert_eq!(entries[0]["release"], release.as_str());
    assert_eq!(entries[1]["exit_code"], 3);
    assert_eq!(entries[0]["hosts"].as_array().unwrap().len(), 2);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(source.join(".deployer/audit.jsonl")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
