//! Runs the scripts of real plans through `sh` on this machine, against a real git
//! repository and a temporary deploy root: `create_environment`, two deploys, a
//! rollback, pruning and the undo of a switch. This proves the scripts, not the
//! executor (which has its own tests over SSH); the loop below is the smallest
//! stand-in for it.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};
use deployer_config::{Config, NoDiscovery, Selection, load_config, select_hosts};
use deployer_plan::protocol::captured::{Captured, Derivation, combine};
use deployer_plan::protocol::report::HostReport;
use deployer_plan::{CommandSpec, HostWork, Invocation, Phase, Plan, PlanInput, Revision, Sources, StepKind, compile};

const SECRET: &str = "s3cr3t value with 'quotes' and $(touch MARKER)";
const HOSTILE: &str = "$(touch MARKER); `touch MARKER` 'x' \"y\" {a,b} *";

struct Fixture {
    _directory: tempfile::TempDir,
    root: Utf8PathBuf,
    config: Config,
}

fn git(repository: &Utf8Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .arg("-C")
        .arg(repository)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn commit(fixture: &Fixture, content: &str) -> String {
    let source = fixture.root.join("source");
    std::fs::write(source.join("app.txt"), content).unwrap();
    git(&source, &["add", "."]);
    git(&source, &["commit", "-q", "-m", content]);
    git(&source, &["rev-parse", "HEAD"])
}

fn fixture() -> Fixture {
    let directory = tempfile::Builder::new().prefix("dpl").tempdir().unwrap();
    let root = Utf8PathBuf::try_from(directory.path().to_owned()).unwrap();
    let source = root.join("source");
    std::fs::create_dir_all(&source).unwrap();
    git(&source, &["init", "-q"]);
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(
        root.join("templates/app.conf.j2"),
        "raw={{ hostile }}\nquoted={{ hostile | shell_quote }}\nkey={{ secrets.api_key }}\n",
    )
    .unwrap();
    std::fs::write(root.join("templates/503.html"), "down for maintenance\n").unwrap();
    std::fs::write(root.join("templates/healthcheck.html"), "OK").unwrap();
    let config = format!(
        r#"
project: demo
repo: {root}/source
deploy_root: {root}/hosts
keep_releases: 2
valid_roles: [web]
roles:
  web:
    build: "echo built$NEVER_SET_BY_ANYONE > built.txt"
    restart: "echo restart >> {root}/restarts.log"
    healthcheck: test -f built.txt
migrate:
  role: web
  command: echo "$DEPLOYER_RELEASE" >> {root}/migrations.log
shared_dirs: [media]
shared_files: [config/local.env]
templates:
  - src: templates/app.conf.j2
    dest: config/app.conf
    mode: "0640"
static_html:
  upgrade_message: templates/503.html
  healthcheck_override: templates/healthcheck.html
password_names: [api_key]
vars:
  hostile: "{hostile}"
environments:
  testing:
    branch: main
    connection: local
    roles:
      web: [localhost]
"#,
        hostile = HOSTILE.replace('\\', "\\\\").replace('"', "\\\""),
    );
    std::fs::write(root.join("fabulaws-config.yml"), config).unwrap();
    let config = load_config(&root.join("fabulaws-config.yml"), &[]).unwrap();
    Fixture { _directory: directory, root, config }
}

fn plan(fixture: &Fixture, command: CommandSpec, stamp: &str, commit: &str) -> Plan {
    let hosts =
        select_hosts(&fixture.config, "testing", &Selection { dedupe: true, ..Selection::default() }, &mut NoDiscovery)
            .unwrap();
    let mut sources = Sources::new();
    for name in ["templates/app.conf.j2", "templates/503.html", "templates/healthcheck.html"] {
        sources.insert(name.into(), std::fs::read_to_string(fixture.root.join(name)).unwrap());
    }
    compile(&PlanInput {
        config: &fixture.config,
        deployment: "demo",
        environment: "testing",
        command,
        hosts: &hosts,
        revision: Some(Revision { branch: Some("main".to_owned()), commit: commit.to_owned() }),
        invocation: Invocation {
            deploy_id: format!("{stamp}-1"),
            local_user: "tester".to_owned(),
            controller: "here".to_owned(),
            pid: 1,
            stamp: stamp.to_owned(),
            started_at: "2026-11-23T00:00:00Z".to_owned(),
        },
        sources: &sources,
        shipping: None,
        group: None,
    })
    .unwrap()
}

/// Runs one step's script through `sh` with `set -eu`, its slots filled with the
/// test secret and `captured`, in `directory`.
fn run_step(
    step: &deployer_plan::Step,
    captured: &BTreeMap<Captured, String>,
    directory: &Utf8Path,
) -> std::process::Output {
    let script: Result<String, String> = step.script.expose(
        |name| if name == "api_key" { Ok(SECRET.to_owned()) } else { Err(format!("unknown secret {name}")) },
        |name| captured.get(&name).cloned().ok_or_else(|| format!("nothing captured as {name:?}")),
    );
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("set -eu\n{}", script.unwrap())).current_dir(directory);
    STEP_ENV.with_borrow(|vars| command.envs(vars.iter().map(|(name, value)| (name, value))));
    command.output().unwrap()
}

thread_local! {
    /// Variables every step run by this test's thread gets (each test has its own thread).
    static STEP_ENV: std::cell::RefCell<Vec<(String, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `body` with `vars` in every step's environment.
fn with_step_env<R>(vars: &[(&str, &str)], body: impl FnOnce() -> R) -> R {
    STEP_ENV.with_borrow_mut(|env| *env = vars.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect());
    let result = body();
    STEP_ENV.with_borrow_mut(Vec::clear);
    result
}

/// Runs each step's script through `sh` with `set -eu`, as the executor will, and
/// derives values from the hosts' reports as the executor does.
fn run_work(
    work: &[HostWork],
    derives: Option<&Derivation>,
    captured: &mut BTreeMap<Captured, String>,
    directory: &Utf8Path,
) {
    let mut per_host: BTreeMap<Captured, BTreeMap<String, String>> = BTreeMap::new();
    for item in work {
        let mut report = HostReport::default();
        for step in &item.steps {
            let output = run_step(step, captured, directory);
            assert!(
                output.status.success(),
                "step `{}` failed: {}\n{}",
                step.title,
                String::from_utf8_lossy(&output.stderr),
                step.script
            );
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                report.push_line(line);
            }
        }
        if let Some(derivation) = derives {
            for (name, value) in derivation.derive(&report).unwrap() {
                per_host.entry(name).or_default().insert(item.host.to_string(), value);
            }
        }
    }
    for (name, values) in per_host {
        captured.insert(name, combine(name, &values).unwrap());
    }
}

/// The phase that has a step of `kind` (phases run several parts in one script).
fn phase_with(plan: &Plan, kind: StepKind) -> &Phase {
    plan.phases
        .iter()
        .find(|phase| phase.work.iter().flat_map(|work| &work.steps).any(|step| step.kind == kind))
        .unwrap_or_else(|| panic!("no phase has a {kind:?} step"))
}

/// Only the steps of `kind` of each host's work.
fn only(work: &[HostWork], kind: StepKind) -> Vec<HostWork> {
    work.iter()
        .map(|work| HostWork {
            host: work.host,
            steps: work.steps.iter().filter(|step| step.kind == kind).cloned().collect(),
        })
        .collect()
}

fn run(plan: &Plan, fixture: &Fixture) -> BTreeMap<Captured, String> {
    let mut captured = BTreeMap::new();
    for phase in &plan.phases {
        run_work(&phase.work, phase.derives.as_ref(), &mut captured, &fixture.root);
    }
    captured
}

fn current(fixture: &Fixture) -> String {
    let link = std::fs::read_link(fixture.root.join("hosts/testing/current")).unwrap();
    link.file_name().unwrap().to_string_lossy().into_owned()
}

/// The releases in `root`'s releases/, sorted: not deployer's hidden entries
/// there (the prune's `.deployer-pruned/`).
fn release_names(root: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("releases"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The releases left in `root`'s releases/ once the background delete of what
/// the prune took out (releases/.deployer-pruned/<run>/) has finished: the
/// prune itself must already have moved them out of the list.
fn releases_left(root: &Utf8Path) -> Vec<String> {
    let left = release_names(root);
    wait_for_pruned_deleted(root);
    left
}

/// Waits (at most a minute) until `done`, for work a step left running in the
/// background; `what` names it when it never is.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < std::time::Duration::from_mins(1), "{what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits until the prune's background delete has emptied releases/.deployer-pruned/.
fn wait_for_pruned_deleted(root: &Utf8Path) {
    let pruned = root.join("releases/.deployer-pruned");
    wait_until("the pruned releases were not deleted", || {
        std::fs::read_dir(&pruned).map_or(true, |mut entries| entries.next().is_none())
    });
}

fn no_marker_anywhere(path: &Path) {
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        assert_ne!(entry.file_name(), "MARKER", "a hostile value ran a command: {}", entry.path().display());
        if entry.file_type().unwrap().is_dir() {
            no_marker_anywhere(&entry.path());
        }
    }
}

#[test]
fn create_deploy_rollback_and_prune_through_sh() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    let first = commit(&fixture, "one");

    let plan_one = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &first);
    run(&plan_one, &fixture);
    let release_one = plan_one.release_id.clone().unwrap();
    assert_eq!(current(&fixture), release_one);
    assert_eq!(std::fs::read_to_string(root.join("current/app.txt")).unwrap(), "one");
    assert_eq!(std::fs::read_to_string(root.join("current/built.txt")).unwrap(), "built\n");
    assert!(root.join(format!(".deployer/complete/{release_one}")).exists());
    assert!(!root.join(".deployer/lock").exists(), "the lock is released");
    assert!(!root.join("maintenance/503.html").exists(), "the maintenance page is down again");

    // Template values arrive literally; the quoted form reads back as the value.
    let rendered = std::fs::read_to_string(root.join("current/config/app.conf")).unwrap();
    let mut lines = rendered.lines();
    assert_eq!(lines.next().unwrap(), format!("raw={HOSTILE}"));
    let quoted = lines.next().unwrap().strip_prefix("quoted=").unwrap().to_owned();
    let echoed = Command::new("sh").arg("-c").arg(format!("printf %s {quoted}")).output().unwrap();
    assert_eq!(String::from_utf8(echoed.stdout).unwrap(), HOSTILE);
    assert_eq!(lines.next().unwrap(), format!("key={SECRET}"));
    assert_eq!(std::fs::metadata(root.join("current/config/app.conf")).unwrap().permissions().mode() & 0o777, 0o640);

    // Secrets: 0600 files in a 0700 directory, holding exactly the value.
    assert_eq!(std::fs::read_to_string(root.join("secrets/api_key")).unwrap(), SECRET);
    assert_eq!(std::fs::metadata(root.join("secrets/api_key")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(root.join("secrets")).unwrap().permissions().mode() & 0o777, 0o700);
    // Only secrets/ is private: a web server running as another user reads shared/.
    let shared = std::fs::metadata(root.join("shared/media")).unwrap().permissions().mode();
    assert_eq!(shared & 0o005, 0o005, "shared/media is {:o}", shared & 0o777);
    assert!(std::fs::symlink_metadata(root.join("current/media")).unwrap().file_type().is_symlink());
    assert!(std::fs::symlink_metadata(root.join("current/config/local.env")).unwrap().file_type().is_symlink());

    // A second deploy of a new commit; then undo its switch like a failed deploy would.
    let second = commit(&fixture, "two");
    let plan_two = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &second);
    run(&plan_two, &fixture);
    let release_two = plan_two.release_id.clone().unwrap();
    assert_eq!(current(&fixture), release_two);
    let switch = phase_with(&plan_two, StepKind::Switch);
    run_work(&switch.undo, None, &mut BTreeMap::new(), &fixture.root);
    assert_eq!(current(&fixture), release_one, "undoing the switch goes back to the previous release");
    run_work(&switch.work, None, &mut BTreeMap::new(), &fixture.root);
    assert_eq!(current(&fixture), release_two);

    // Rollback picks the previous deployed release from the history.
    let rollback = plan(&fixture, CommandSpec::Rollback { to: None }, "20261123T000003Z", &second);
    let captured = run(&rollback, &fixture);
    assert_eq!(captured[&Captured::RollbackTarget], release_one);
    assert_eq!(captured[&Captured::MigrationsSinceTarget], "yes");
    assert_eq!(current(&fixture), release_one);
    let history = std::fs::read_to_string(root.join(".deployer/history")).unwrap();
    assert!(
        history.lines().last().unwrap().contains("event=rolled-back\t"),
        "the rollback is in the history:\n{history}"
    );
    assert!(history.lines().last().unwrap().ends_with(&format!("\trelease={release_one}")), "{history}");

    // More deploys: keep_releases is 2, and the live and previous releases stay.
    let mut releases = vec![release_one.clone(), release_two.clone()];
    for (number, stamp) in ["20261123T000004Z", "20261123T000005Z", "20261123T000006Z"].iter().enumerate() {
        let next = commit(&fixture, &format!("deploy {number}"));
        let deploy = plan(&fixture, CommandSpec::DeployFull, stamp, &next);
        run(&deploy, &fixture);
        releases.push(deploy.release_id.unwrap());
    }
    let left = releases_left(&root);
    assert_eq!(left, releases[3..], "the two newest complete releases are kept");
    let migrations = std::fs::read_to_string(fixture.root.join("migrations.log")).unwrap();
    assert_eq!(migrations.lines().count(), 5, "migrate ran once per deploy");
    no_marker_anywhere(fixture.root.as_std_path());
}

#[test]
fn a_held_lock_is_reported_and_left_alone() {
    let fixture = fixture();
    let first = commit(&fixture, "one");
    let plan_one = plan(&fixture, CommandSpec::DeployFull, "20261123T000001Z", &first);
    let lock = phase_with(&plan_one, StepKind::Lock);
    run_work(&only(&lock.work, StepKind::Lock), None, &mut BTreeMap::new(), &fixture.root);
    let other = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &first);
    let script = other.phases[0].work[0].steps[0].script.to_string();
    let output = Command::new("sh").arg("-c").arg(format!("set -eu\n{script}")).output().unwrap();
    assert_eq!(output.status.code(), Some(deployer_plan::LOCK_HELD_STATUS));
    assert!(String::from_utf8_lossy(&output.stderr).contains("id=20261123T000001Z-1"), "names the holder");
    // The loser's unlock must not remove the holder's lock.
    run_work(&other.phases[0].undo, None, &mut BTreeMap::new(), &fixture.root);
    assert!(fixture.root.join("hosts/testing/.deployer/lock/owner").exists());
    run_work(&only(&lock.undo, StepKind::Unlock), None, &mut BTreeMap::new(), &fixture.root);
    assert!(!fixture.root.join("hosts/testing/.deployer/lock").exists());
}

#[test]
fn a_reader_never_sees_current_missing_during_500_switches() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    let first = commit(&fixture, "one");
    let plan_one = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &first);
    run(&plan_one, &fixture);
    let second = commit(&fixture, "two");
    let plan_two = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &second);
    run(&plan_two, &fixture);
    let switch_script = |plan: &Plan| {
        let switch = &only(&phase_with(plan, StepKind::Switch).work, StepKind::Switch)[0].steps[0];
        format!("set -eu\n{}", switch.script)
    };
    let scripts = [switch_script(&plan_one), switch_script(&plan_two)];

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let target = root.join("current/app.txt");
        std::thread::spawn(move || {
            let (mut reads, mut missing) = (0u64, 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match std::fs::read_to_string(&target) {
                    Ok(text) if text == "one" || text == "two" => reads += 1,
                    _ => missing += 1,
                }
            }
            (reads, missing)
        })
    };
    for round in 0..500 {
        let output = Command::new("sh").arg("-c").arg(&scripts[round % 2]).output().unwrap();
        assert!(output.status.success(), "switch {round}: {}", String::from_utf8_lossy(&output.stderr));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, missing) = reader.join().unwrap();
    assert_eq!(missing, 0, "current was missing or incomplete {missing} times out of {}", reads + missing);
    assert!(reads > 500, "the reader ran ({reads} reads)");
    assert!(!root.join(".current.deployer-tmp").exists(), "no temporary link is left");
}

#[test]
fn keep_releases_holds_over_eight_deploys() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    let mut deployed = Vec::new();
    for number in 0..8 {
        let commit = commit(&fixture, &format!("version {number}"));
        let command = if number == 0 { CommandSpec::CreateEnvironment } else { CommandSpec::DeployFull };
        let deploy = plan(&fixture, command, &format!("20261123T0000{number:02}Z"), &commit);
        run(&deploy, &fixture);
        deployed.push(deploy.release_id.unwrap());
        let left = releases_left(&root);
        let keep = deployed.len().min(2);
        assert_eq!(left, deployed[deployed.len() - keep..], "after deploy {number}");
        assert_eq!(current(&fixture), deployed[number], "current after deploy {number}");
        if number > 0 {
            assert!(root.join("releases").join(&deployed[number - 1]).exists(), "the previous release is kept");
        }
    }
}

#[test]
fn pruning_5000_old_releases_keeps_the_right_ones() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    let first = commit(&fixture, "one");
    let create = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &first);
    run(&create, &fixture);
    // 5,000 old complete releases, 100 unfinished ones that failed runs created,
    // and 3 that deployer did not create (an adopted Capistrano layout's).
    for number in 0..5100 {
        let id = format!("2020{:04}T000000Z-{number:07x}", 1000 + number % 9000);
        std::fs::create_dir_all(root.join("releases").join(&id)).unwrap();
        std::fs::write(root.join("releases").join(&id).join("f"), "x").unwrap();
        let record = if number < 5000 { ".deployer/complete" } else { ".deployer/created" };
        std::fs::write(root.join(record).join(&id), "").unwrap();
    }
    let foreign = ["20190101000000", "20190102000000", "20190103000000"];
    for name in foreign {
        std::fs::create_dir_all(root.join("releases").join(name)).unwrap();
    }
    // Completed long ago: pruning orders by completion on the host, not by name.
    let touched = Command::new("sh")
        .arg("-c")
        .arg("find . -name '2020*' -exec touch -d 2020-01-01 {} +")
        .current_dir(root.join(".deployer/complete"))
        .status()
        .unwrap();
    assert!(touched.success());
    let second = commit(&fixture, "two");
    let deploy = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &second);
    let started = std::time::Instant::now();
    run(&deploy, &fixture);
    let left: std::collections::BTreeSet<String> = releases_left(&root).into_iter().collect();
    let mut expected: std::collections::BTreeSet<String> =
        [create.release_id.unwrap(), deploy.release_id.unwrap()].into();
    expected.extend(foreign.map(str::to_owned));
    assert_eq!(left, expected, "the newest two (also current and previous) and the foreign ones remain");
    assert_eq!(std::fs::read_dir(root.join(".deployer/complete")).unwrap().count(), 2, "their markers went with them");
    assert!(started.elapsed() < std::time::Duration::from_mins(1), "pruning took {:?}", started.elapsed());
}

#[test]
fn a_symlink_planted_in_the_repository_cannot_redirect_writes() {
    let fixture = fixture();
    let outside = fixture.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, fixture.root.join("source/config")).unwrap();
    let hostile = commit(&fixture, "planted");
    let deploy = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &hostile);
    let captured: BTreeMap<Captured, String> = BTreeMap::new();
    let mut failure = None;
    'phases: for phase in &deploy.phases {
        for item in &phase.work {
            for step in &item.steps {
                let script: Result<String, String> = step.script.expose(
                    |_| Ok(SECRET.to_owned()),
                    |name| captured.get(&name).cloned().ok_or_else(|| name.as_str().to_owned()),
                );
                let output =
                    Command::new("sh").arg("-c").arg(format!("set -eu\n{}", script.unwrap())).output().unwrap();
                if !output.status.success() {
                    failure = Some(String::from_utf8_lossy(&output.stderr).into_owned());
                    break 'phases;
                }
            }
        }
    }
    let failure = failure.expect("the deploy must stop at the planted symlink");
    assert!(failure.contains("is a symlink; refusing to write through it"), "{failure}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing was written outside the release");
}

/// Runs every step of `work` through `sh`; returns the first failure's stderr.
fn try_work(work: &[HostWork], directory: &Utf8Path) -> Result<(), String> {
    for step in work.iter().flat_map(|item| &item.steps) {
        let output = run_step(step, &BTreeMap::new(), directory);
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
    }
    Ok(())
}

#[test]
fn a_capistrano_layout_is_adopted_restored_exactly_and_never_pruned() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    // What Capistrano (or Deployer-PHP, with a relative link) leaves: releases, a
    // shared directory and `current`, and no deployer markers at all.
    std::fs::create_dir_all(root.join("releases/20240101120000")).unwrap();
    std::fs::write(root.join("releases/20240101120000/app.txt"), "capistrano").unwrap();
    std::fs::create_dir_all(root.join("shared/media")).unwrap();
    std::fs::create_dir_all(root.join("shared/config")).unwrap();
    std::fs::write(root.join("shared/config/local.env"), "").unwrap();
    std::os::unix::fs::symlink("releases/20240101120000", root.join("current")).unwrap();
    let first = commit(&fixture, "one");
    let deploy = plan(&fixture, CommandSpec::DeployFull, "20261123T000001Z", &first);

    // The deploy fails after its switch: undo puts back exactly the relative link.
    let switch = deploy.phases.iter().position(Phase::switches_current).unwrap();
    for phase in &deploy.phases[..=switch] {
        run_work(&phase.work, phase.derives.as_ref(), &mut BTreeMap::new(), &fixture.root);
    }
    assert_eq!(current(&fixture), deploy.release_id.clone().unwrap());
    for phase in deploy.phases[..=switch].iter().rev() {
        run_work(&phase.undo, None, &mut BTreeMap::new(), &fixture.root);
    }
    assert_eq!(std::fs::read_link(root.join("current")).unwrap(), Path::new("releases/20240101120000"));
    assert!(!root.join(".deployer/previous").exists(), "previous is as it was: absent");
    let release = deploy.release_id.unwrap();
    assert!(root.join(".deployer/complete").join(&release).exists(), "a complete release is kept, never live");
    let history = std::fs::read_to_string(root.join(".deployer/history")).unwrap();
    assert!(history.lines().last().unwrap().starts_with("v2\tevent=switched-back"), "{history}");
    assert!(root.join("releases/20240101120000/app.txt").exists(), "the adopted release is untouched");

    // Deploys that succeed keep the adopted release however many there are.
    for (number, stamp) in ["20261123T000002Z", "20261123T000003Z", "20261123T000004Z"].iter().enumerate() {
        let next = commit(&fixture, &format!("v{number}"));
        run(&plan(&fixture, CommandSpec::DeployFull, stamp, &next), &fixture);
    }
    assert!(
        root.join("releases/20240101120000/app.txt").exists(),
        "pruning never removes what deployer did not create"
    );
}

#[test]
fn an_undone_switch_restores_previous_too() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    let one = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &commit(&fixture, "one"));
    run(&one, &fixture);
    let two = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &commit(&fixture, "two"));
    run(&two, &fixture);
    let three = plan(&fixture, CommandSpec::DeployFull, "20261123T000003Z", &commit(&fixture, "three"));
    let switch = three.phases.iter().position(Phase::switches_current).unwrap();
    for phase in &three.phases[..=switch] {
        run_work(&phase.work, None, &mut BTreeMap::new(), &fixture.root);
    }
    run_work(&three.phases[switch].undo, None, &mut BTreeMap::new(), &fixture.root);
    assert_eq!(current(&fixture), two.release_id.unwrap());
    let previous = std::fs::read_to_string(root.join(".deployer/previous")).unwrap();
    assert_eq!(
        previous.trim(),
        one.release_id.unwrap(),
        "previous is the release before the live one, not the live one"
    );
}

#[test]
fn a_release_that_exists_is_refused_and_left_alone() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    let first = commit(&fixture, "one");
    let one = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &first);
    run(&one, &fixture);
    // Another run in the same second with the same commit: same release id.
    let again = plan(&fixture, CommandSpec::DeployFull, "20261123T000001Z", &first);
    let prepare = phase_with(&again, StepKind::PrepareRelease);
    let error = try_work(&prepare.work, &fixture.root).unwrap_err();
    assert!(error.contains("already exists on this host"), "{error}");
    try_work(&prepare.undo, &fixture.root).unwrap();
    let id = one.release_id.unwrap();
    assert!(root.join("releases").join(&id).join("app.txt").exists(), "the other run's release was not removed");
    assert!(root.join(".deployer/complete").join(&id).exists());
    assert_eq!(current(&fixture), id);
}

/// A fixture whose repository is a `file://` URL: fetched like a remote one (a
/// plain path is cloned, with hardlinks).
fn url_fixture() -> Fixture {
    let mut fixture = fixture();
    let text = std::fs::read_to_string(fixture.root.join("fabulaws-config.yml")).unwrap();
    let source = fixture.root.join("source");
    let text = text.replace(&format!("repo: {source}\n"), &format!("repo: file://{source}\n"));
    std::fs::write(fixture.root.join("fabulaws-config.yml"), text).unwrap();
    fixture.config = load_config(&fixture.root.join("fabulaws-config.yml"), &[]).unwrap();
    fixture
}

/// [`url_fixture`] with `execution.hardlink_releases`, and a file that no commit changes.
fn hardlink_fixture() -> Fixture {
    let mut fixture = url_fixture();
    let text = std::fs::read_to_string(fixture.root.join("fabulaws-config.yml")).unwrap();
    std::fs::write(fixture.root.join("fabulaws-config.yml"), format!("{text}execution:\n  hardlink_releases: true\n"))
        .unwrap();
    fixture.config = load_config(&fixture.root.join("fabulaws-config.yml"), &[]).unwrap();
    std::fs::write(fixture.root.join("source/lib.txt"), "library\n").unwrap();
    fixture
}

mod fetching;
mod flush;
mod prune;
