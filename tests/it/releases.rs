//! Releases that are safe to ship, on a real sshd fleet: deploy twice and roll
//! back, serial batches, failures after the switch, concurrent deploys, and a
//! secret that never shows up anywhere but its file.

use deployer_plan::protocol::history::{self, EventKind};

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{
    Project, StderrLines, held_restart_roles, project_with, run_and_check, signal, wait_for, walk,
};
use deployer_fleet::DEPLOY_PATH;

const MAINTENANCE: &str = "/srv/deployer-fleet/testing/maintenance/503.html";

/// Roles that record what they saw: whether the maintenance page was up during the
/// build and the migration, each restart and health check with the live release.
fn recording_roles() -> String {
    format!(
        "  web:\n\
         \x20   build: \"if [ -e {MAINTENANCE} ]; then echo up; else echo down; fi >> {DEPLOY_PATH}/page-during-build\"\n\
         \x20   restart: \"test ! -e {DEPLOY_PATH}/fail-restart && echo $DEPLOYER_RELEASE >> {DEPLOY_PATH}/restarts && date +%s%N > {DEPLOY_PATH}/restart-at\"\n\
         \x20   healthcheck: \"test -f app.txt && test ! -e {DEPLOY_PATH}/fail-health && echo $DEPLOYER_RELEASE >> {DEPLOY_PATH}/health && date +%s%N > {DEPLOY_PATH}/health-at\"\n"
    )
}

fn recording_extra() -> String {
    format!(
        "migrate:\n\
         \x20 role: web\n\
         \x20 command: \"if [ -e {MAINTENANCE} ]; then echo up; else echo down; fi >> {DEPLOY_PATH}/migrations\"\n\
         static_html:\n\
         \x20 upgrade_message: 503.html\n\
         \x20 healthcheck_override: healthcheck.html\n\
         keep_releases: 3\n"
    )
}

fn releases_on(project: &Project, hosts: usize) -> Vec<Option<String>> {
    (0..hosts).map(|host| project.current(host)).collect()
}

fn all_on(project: &Project, hosts: usize) -> String {
    let live = releases_on(project, hosts);
    let first = live[0].clone().expect("host 0 has a live release");
    assert!(live.iter().all(|release| release.as_deref() == Some(first.as_str())), "hosts differ: {live:?}");
    for host in 0..hosts {
        assert!(
            project.host_file(host, &format!("testing/.deployer/complete/{first}")).exists(),
            "host {host}: not complete"
        );
    }
    first
}

#[test]
fn deploy_twice_then_roll_back() {
    let Some(project) = project_with(10, &recording_roles(), &recording_extra()) else { return };
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let first = all_on(&project, 10);

    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let second = all_on(&project, 10);
    assert_ne!(first, second);
    assert_eq!(project.current_file(3, "app.txt").as_deref(), Some("v2\n"));

    let outcome = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("warning: migrations ran after the rollback target"), "{}", outcome.stderr);
    assert_eq!(all_on(&project, 10), first, "every host is back on the first release");

    for host in 0..10 {
        let history = project.lines(host, "testing/.deployer/history");
        let (entries, _) = history::parse_all(history.iter().map(String::as_str));
        let deployed = entries.iter().filter(|entry| entry.event == EventKind::Deployed).count();
        assert_eq!(deployed, 2, "host {host}: {history:?}");
        assert!(
            entries.iter().any(|entry| entry.event == EventKind::RolledBack && entry.release == first),
            "{history:?}"
        );
        // Restarted and health-checked on every deploy and on the rollback.
        assert_eq!(project.lines(host, "restarts"), [first.clone(), second.clone(), first.clone()], "host {host}");
        assert_eq!(project.lines(host, "health"), [first.clone(), second.clone(), first.clone()], "host {host}");
        // The maintenance page was down while building and down again afterwards.
        assert_eq!(project.lines(host, "page-during-build"), ["down", "down"], "host {host}");
        assert!(!project.host_file(host, "testing/maintenance/503.html").exists(), "host {host}: page still up");
    }
    // Migrations ran once per deploy, on one host, with the page up.
    let migrations: Vec<Vec<String>> = (0..10).map(|host| project.lines(host, "migrations")).collect();
    assert_eq!(migrations.iter().map(Vec::len).sum::<usize>(), 2, "{migrations:?}");
    assert!(migrations.iter().flatten().all(|line| line == "up"), "{migrations:?}");
}

#[test]
fn serial_batches_switch_in_order_and_a_failing_batch_is_switched_back() {
    let Some(project) = project_with(9, &recording_roles(), &recording_extra()) else { return };
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let first = all_on(&project, 9);

    // A clean serial deploy: batches of 3, each health-checked before the next starts.
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_serial", "testing", "--batch-size", "3"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let second = all_on(&project, 9);
    // While it runs, each batch is announced with its hosts.
    let names: Vec<String> = project.fleet.hosts.iter().map(|host| host.host_string(&project.fleet.user)).collect();
    let batch_two = format!("rollout: batch 2/3: {}", names[3..6].join(", "));
    assert!(outcome.stderr.contains(&batch_two), "missing {batch_two:?} in:\n{}", outcome.stderr);
    let time = |host: usize, file: &str| -> u128 { project.lines(host, file)[0].parse().unwrap() };
    for batch in 0..2 {
        let last_health = (batch * 3..batch * 3 + 3).map(|host| time(host, "health-at")).max().unwrap();
        let next_restart = ((batch + 1) * 3..(batch + 1) * 3 + 3).map(|host| time(host, "restart-at")).min().unwrap();
        assert!(last_health < next_restart, "batch {} restarted before batch {batch} was healthy", batch + 1);
    }

    // The second batch fails its health check: everything that switched goes back.
    std::fs::write(project.host_file(4, "fail-health"), "").unwrap();
    project.next_version("v3\n");
    let outcome = run_and_check(&project, &["deploy_serial", "testing", "--batch-size", "3"]);
    assert_eq!(outcome.code, 3, "rolled back: {}", outcome.stderr);
    check_fleet(&project, 9, &outcome, &Expect::all_on(&second).keeping(&first));
    for host in 6..9 {
        assert_eq!(project.lines(host, "restarts").len(), 2, "host {host}: the third batch never started");
    }
    assert_ne!(first, second);
}

#[test]
fn halt_leaves_the_fleet_partial_and_names_the_hosts() {
    let Some(project) = project_with(7, &recording_roles(), &recording_extra()) else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let first = all_on(&project, 7);
    std::fs::write(project.host_file(4, "fail-health"), "").unwrap();
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["--on-failure=halt", "deploy_serial", "testing", "--batch-size", "3"]);
    assert_eq!(outcome.code, 4, "partial: {}", outcome.stderr);
    assert!(outcome.stderr.contains("left on the new release:"), "{}", outcome.stderr);
    let live = releases_on(&project, 7);
    let second = live[0].clone().unwrap();
    assert_ne!(second, first);
    check_fleet(&project, 7, &outcome, &Expect::partial(&first, &second, &[0, 1, 2, 3, 4, 5]));
    let status = run_and_check(&project, &["status", "testing"]);
    assert!(status.stdout.contains("drift: 2 releases are live"), "{}", status.stdout);
    assert_eq!(status.code, 4, "status exits 4 on drift");
    assert!(!project.host_file(0, "testing/.deployer/lock").exists(), "the lock is released");
}

#[test]
fn a_restart_failing_on_one_host_switches_every_host_back() {
    let Some(project) = project_with(5, &recording_roles(), &recording_extra()) else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let first = all_on(&project, 5);
    std::fs::write(project.host_file(2, "fail-restart"), "").unwrap();
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("every switched host was switched back"), "{}", outcome.stderr);
    // The migration ran on one host and nothing undid it: the summary says so.
    let said = outcome.stderr.lines().find(|line| line.starts_with("not undone, nothing can undo it: ")).unwrap_or("");
    assert!(said.contains(": run the migrations (once)"), "{}", outcome.stderr);
    check_fleet(&project, 5, &outcome, &Expect::all_on(&first));
}

#[test]
fn two_deploys_at_the_same_moment_exactly_one_runs() {
    let Some(project) = project_with(6, &recording_roles(), &recording_extra()) else { return };
    let spawn = || project.spawn(&["deploy_full", "testing"]);
    let (first, second) = (spawn(), spawn());
    let codes = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let mut exits: Vec<i32> = codes.iter().map(|output| output.status.code().unwrap()).collect();
    exits.sort();
    assert_eq!(
        exits,
        [0, 5],
        "one deploys, the other finds the lock: {:?}",
        codes.iter().map(|output| String::from_utf8_lossy(&output.stderr).into_owned()).collect::<Vec<_>>()
    );
    let release = all_on(&project, 6);
    for host in 0..6 {
        let entries = std::fs::read_dir(project.host_file(host, "testing/releases")).unwrap().count();
        assert_eq!(entries, 1, "host {host}: the losing run created nothing ({release})");
    }
    let loser = codes.iter().find(|output| output.status.code() == Some(5)).unwrap();
    let said = String::from_utf8_lossy(&loser.stderr);
    assert!(!said.contains("undoing"), "the refused run undoes nothing of the holder's:\n{said}");
    let text = |stream: fn(&std::process::Output) -> &Vec<u8>| {
        codes.iter().map(|output| String::from_utf8_lossy(stream(output)).into_owned()).collect::<String>()
    };
    let both = crate::support::Outcome {
        code: 5,
        stdout: text(|output| &output.stdout),
        stderr: text(|output| &output.stderr),
    };
    check_fleet(&project, 6, &both, &Expect::all_on(&release));
}

#[test]
fn a_secret_reaches_its_file_and_nothing_else() {
    const CANARY: &str = "canary-5f1e-0c7a-never-print";
    let extra = "password_names: [api_key]\ntemplates:\n  - {src: env.j2, dest: app.env, mode: \"0600\"}\n";
    let Some(project) = project_with(3, super_roles(), extra) else { return };
    std::fs::write(project.path().join("env.j2"), "API_KEY={{ secrets.api_key }}\n").unwrap();
    std::fs::write(project.path().join("fabsecrets_testing.py"), format!("api_key = \"{CANARY}\"\n")).unwrap();
    let sampler = CmdlineSampler::start(CANARY);

    let outcome = run_and_check(&project, &["--json", "update_server_passwords", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let mut seen = outcome.stdout + &outcome.stderr;
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    seen += &(outcome.stdout + &outcome.stderr);
    // A forced failure, at the most verbose output: the secret must not surface in errors.
    std::fs::write(project.host_file(1, "fail-build"), "").unwrap();
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["--json", "deploy_full", "testing"]);
    assert_eq!(outcome.code, 1);
    seen += &(outcome.stdout + &outcome.stderr);
    let plan = run_and_check(&project, &["--json", "plan", "deploy_full", "testing"]);
    seen += &(plan.stdout + &plan.stderr);
    assert!(!seen.contains(CANARY), "the secret appeared in deployer's output");
    let (samples, found) = sampler.stop();
    assert!(samples > 100, "the sampler ran ({samples} scans)");
    assert_eq!(found, None, "the secret was in a process's command line");
    for entry in walk(&project.path().join(".deployer/logs")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(!text.contains(CANARY), "the secret is in the log {}", entry.display());
    }

    use std::os::unix::fs::PermissionsExt;
    for host in 0..3 {
        let secret = project.host_file(host, "testing/secrets/api_key");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), CANARY);
        assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(project.host_file(host, "testing/secrets")).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let env = project.current_file(host, "app.env").unwrap();
        assert_eq!(env, format!("API_KEY={CANARY}\n"));
    }
}

fn super_roles() -> &'static str {
    crate::support::project::DEFAULT_ROLES
}

#[test]
fn create_environment_can_run_twice_and_logs_per_host() {
    let extra = format!("{}shared_files: [config/local.env]\nshared_dirs: [media]\n", recording_extra());
    let Some(project) = project_with(3, &recording_roles(), &extra) else { return };
    let outcome = run_and_check(&project, &["create_environment", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    std::fs::write(project.host_file(1, "testing/shared/config/local.env"), "KEEP=me\n").unwrap();
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["create_environment", "testing"]);
    assert_eq!(outcome.code, 0, "running it again does no harm: {}", outcome.stderr);
    all_on(&project, 3);
    assert_eq!(
        std::fs::read_to_string(project.host_file(1, "testing/shared/config/local.env")).unwrap(),
        "KEEP=me\n",
        "shared files survive"
    );
    for run in std::fs::read_dir(project.path().join(".deployer/logs")).unwrap() {
        assert_eq!(std::fs::read_dir(run.unwrap().path()).unwrap().count(), 3, "one log file per host");
    }
}

#[test]
fn production_asks_before_running() {
    let extra = format!("{}production_environments: [testing]\n", recording_extra());
    let Some(project) = project_with(1, &recording_roles(), &extra) else { return };
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("run `deploy_full` on production environment `testing`?"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("--yes"), "{}", outcome.stderr);
    assert_eq!(project.current(0), None, "nothing ran");
    let outcome = run_and_check(&project, &["--yes", "deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn lock_status_and_release_respect_the_holder() {
    let Some(project) = project_with(2, &recording_roles(), &recording_extra()) else { return };
    let this_machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    for host in 0..2 {
        let lock = project.host_file(host, "testing/.deployer/lock");
        std::fs::create_dir_all(&lock).unwrap();
        std::fs::write(
            lock.join("owner"),
            format!("id=20261101T000000Z-77\nuser=alice\ncontroller={this_machine}\npid=999999\ncommand=deploy_full\nstarted=2026-11-01T00:00:00Z\n"),
        )
        .unwrap();
        let _ = std::process::Command::new("chown")
            .args(["-R", "dplfleet:dplfleet"])
            .arg(project.host_file(host, "testing"))
            .status();
    }
    let outcome = run_and_check(&project, &["lock", "status", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("held by alice@"), "{}", outcome.stdout);
    assert!(outcome.stdout.contains("id 20261101T000000Z-77 (stale: that process is gone"), "{}", outcome.stdout);

    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 5, "a held lock stops the deploy: {}", outcome.stderr);
    assert!(project.host_file(0, "testing/.deployer/lock/owner").exists(), "the holder's lock is untouched");

    let outcome = run_and_check(&project, &["lock", "release", "testing", "--id", "someone-else"]);
    assert_eq!(outcome.code, 1);
    assert!(outcome.stdout.contains("refused") && outcome.stdout.contains("user=alice"), "{}", outcome.stdout);
    assert!(project.host_file(0, "testing/.deployer/lock").exists());

    let outcome = run_and_check(&project, &["lock", "release", "testing", "--id", "20261101T000000Z-77"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stdout);
    assert!(
        !project.host_file(0, "testing/.deployer/lock").exists()
            && !project.host_file(1, "testing/.deployer/lock").exists()
    );
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
}

/// Scans every process's command line every few milliseconds, looking for a value.
struct CmdlineSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, Option<String>)>,
}

impl CmdlineSampler {
    fn start(needle: &'static str) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut scans = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                        let text = String::from_utf8_lossy(&cmdline);
                        if text.contains(needle) {
                            return (scans, Some(text.replace('\0', " ")));
                        }
                    }
                }
                scans += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            (scans, None)
        });
        Self { stop, thread }
    }

    fn stop(self) -> (u64, Option<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn a_controller_killed_after_the_switch_is_recovered_with_status_lock_and_rollback() {
    let Some(project) = project_with(3, &held_restart_roles(), "keep_releases: 3\n") else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let first = all_on(&project, 3);

    project.next_version("v2\n");
    project.kill_deploy_after_the_switch(|| {});

    // status: every host on the new release, and the dead run's lock, flagged stale.
    let status = run_and_check(&project, &["--json", "status", "testing"]);
    assert_eq!(status.code, 5, "status exits 5 on a stale lock");
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let hosts = status["hosts"].as_array().unwrap();
    assert!(hosts.iter().all(|host| host["current"] != first.as_str()), "the switch had happened: {status}");
    let lock = &hosts[0]["lock"];
    assert_eq!(lock["stale"], true, "{status}");
    let id = lock["id"].as_str().unwrap().to_owned();

    // A new deploy refuses; the stale lock is released by its id; rollback restores.
    assert_eq!(run_and_check(&project, &["rollback", "testing"]).code, 5);
    assert_eq!(run_and_check(&project, &["lock", "release", "testing", "--id", &id]).code, 0);
    let outcome = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    check_fleet(&project, 3, &outcome, &Expect::all_on(&first));
}

#[test]
fn ctrl_c_during_prepare_cleans_up_and_a_second_one_exits_at_once() {
    let roles = format!(
        "  web:\n\
         \x20   build: \"touch {DEPLOY_PATH}/building; while [ ! -e {DEPLOY_PATH}/go ]; do sleep 0.05; done\"\n\
         \x20   healthcheck: test -f app.txt\n"
    );
    let Some(project) = project_with(2, &roles, "execution:\n  command_timeout: 30\n") else { return };
    // First press: the build finishes (the release is complete: kept for `resume`,
    // never live), the lock is released, exit 130.
    let child = project.spawn(&["deploy_full", "testing"]);
    wait_for(&project.host_file(0, "building"));
    wait_for(&project.host_file(1, "building"));
    signal(child.id(), "INT");
    for host in 0..2 {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
    let outcome = crate::support::project::finish(child);
    assert_eq!(outcome.code, 130, "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::nothing_deployed());
    for host in 0..2 {
        std::fs::remove_file(project.host_file(host, "go")).unwrap();
        std::fs::remove_file(project.host_file(host, "building")).unwrap();
    }

    // Second press: out at once, saying what may be left.
    project.tick();
    let mut child = project.spawn(&["deploy_full", "testing"]);
    let said = StderrLines::follow(&mut child);
    // Both builds running, as the line awaited below says.
    wait_for(&project.host_file(0, "building"));
    wait_for(&project.host_file(1, "building"));
    signal(child.id(), "INT");
    // The second press goes in once deployer has said it is stopping, not after a sleep.
    said.wait_for_line(|line| line.starts_with("stopping (Ctrl-C): no new steps start; waiting for 2 running steps"));
    let started = std::time::Instant::now();
    signal(child.id(), "INT");
    let status = child.wait().unwrap();
    let stderr = said.all();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the second Ctrl-C took {:?}", started.elapsed());
    assert!(stderr.contains("interrupted again") && stderr.contains("deployer lock status"), "{stderr}");
    // What it left is what it said: the lock, with this run's id, and an unfinished release.
    let outcome = crate::support::Outcome { code: 130, stdout: String::new(), stderr };
    wait_for(&project.host_file(0, "testing/.deployer/lock/owner"));
    check_fleet(&project, 2, &outcome, &Expect::nothing_deployed().cut_off(0).cut_off(1));
    for host in 0..2 {
        std::fs::write(project.host_file(host, "go"), "").unwrap();
    }
}
