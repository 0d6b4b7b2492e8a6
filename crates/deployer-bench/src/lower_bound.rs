//! The lower bound: the same plan's scripts over one plain `ssh host sh -s` session
//! per host, with a barrier between phases kept by waiting on each host's stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use camino::Utf8Path;
use deployer_config::{NoDiscovery, Selection, load_config, select_hosts};
use deployer_fleet::Fleet;
use deployer_plan::{CommandSpec, Invocation, PlanInput, Revision, Sources, compile};

use crate::{Measure, cgroup};

/// Runs the lower bound as a child of this process inside a cgroup: this binary
/// re-executes itself with `lower-bound <plan.json> ...` so its ssh processes are
/// accounted like deployer's.
pub(crate) fn run(config: &Path, environment: &str, work: &Path, fleet: &Fleet) -> Measure {
    let config_path = camino::Utf8PathBuf::from_path_buf(config.to_owned()).unwrap();
    let loaded = load_config(&config_path, &[]).unwrap();
    let hosts =
        select_hosts(&loaded, environment, &Selection { dedupe: true, ..Selection::default() }, &mut NoDiscovery)
            .unwrap();
    let commit = String::from_utf8(
        Command::new("git").arg("-C").arg(work.join("source")).args(["rev-parse", "HEAD"]).output().unwrap().stdout,
    )
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let stamp = format!("20261123T{:06}Z", now % 1_000_000 % 235_959);
    let plan = compile(&PlanInput {
        config: &loaded,
        deployment: "bench",
        environment,
        command: CommandSpec::DeployFull,
        hosts: &hosts,
        revision: Some(Revision { branch: Some("main".to_owned()), commit: commit.trim().to_owned() }),
        invocation: Invocation {
            deploy_id: format!("{stamp}-plain"),
            local_user: "bench".to_owned(),
            controller: "bench".to_owned(),
            pid: std::process::id(),
            stamp,
            started_at: "2026-11-23T00:00:00Z".to_owned(),
        },
        sources: &Sources::new(),
        shipping: None,
        group: None,
    })
    .unwrap();
    // Per host, per phase: the steps' scripts, each in a subshell.
    let mut scripts: Vec<Vec<String>> = vec![Vec::new(); plan.hosts.len()];
    for phase in &plan.phases {
        for (host, host_scripts) in scripts.iter_mut().enumerate() {
            let mut text = String::new();
            if let Some(work) = phase.work.iter().find(|work| work.host == host) {
                for step in &work.steps {
                    text.push_str(&format!(
                        "( set -eu\n{}\n) </dev/null || {{ echo __FAILED__; exit 1; }}\n",
                        step.script
                    ));
                }
            }
            text.push_str("echo __PHASE_DONE__\n");
            host_scripts.push(text);
        }
    }
    let plan_file = work.join("lower-bound.json");
    let destinations: Vec<String> = plan.hosts.iter().map(|host| host.name.clone()).collect();
    std::fs::write(&plan_file, serde_lines(&destinations, &scripts)).unwrap();
    let me = std::env::current_exe().unwrap();
    let mut command = Command::new(me);
    command.arg("lower-bound").arg(&plan_file).arg(work.join("known_hosts")).arg(fleet.client_key());
    let run = cgroup::run("dpl-plain", &command);
    if !run.status.success() {
        eprintln!("lower bound failed: {}", run.stderr_text());
    }
    Measure::of(run, None)
}

/// A trivial file format: `host\tphase1\x1ephase2...` lines, scripts escaped.
fn serde_lines(hosts: &[String], scripts: &[Vec<String>]) -> String {
    hosts
        .iter()
        .zip(scripts)
        .map(|(host, phases)| {
            format!(
                "{host}\t{}",
                phases.iter().map(|script| script.replace('\n', "\u{1f}")).collect::<Vec<_>>().join("\u{1e}")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The child side: one ssh per host, phases with barriers.
pub(crate) fn child_main(plan_file: &Utf8Path, known_hosts: &str, key: &str) -> i32 {
    let text = std::fs::read_to_string(plan_file).unwrap();
    let hosts: Vec<(String, Vec<String>)> = text
        .lines()
        .map(|line| {
            let (host, phases) = line.split_once('\t').unwrap();
            (host.to_owned(), phases.split('\u{1e}').map(|script| script.replace('\u{1f}', "\n")).collect())
        })
        .collect();
    let phases = hosts.first().map_or(0, |(_, phases)| phases.len());
    let (done_sender, done_receiver) = mpsc::channel::<(usize, bool)>();
    let mut children: Vec<Child> = Vec::new();
    for (index, (host, _)) in hosts.iter().enumerate() {
        let (user_host, port) = host.rsplit_once(':').unwrap();
        let mut child = Command::new("ssh")
            .args(["-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!("UserKnownHostsFile={known_hosts}"))
            .args(["-o", "IdentitiesOnly=yes", "-i", key, "-p", port, "--", user_host, "sh", "-s"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let sender = done_sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match line.as_str() {
                    "__PHASE_DONE__" => {
                        let _ = sender.send((index, true));
                    }
                    "__FAILED__" => {
                        let _ = sender.send((index, false));
                    }
                    _ => {}
                }
            }
        });
        children.push(child);
    }
    for phase in 0..phases {
        for (child, (_, scripts)) in children.iter_mut().zip(&hosts) {
            child.stdin.as_mut().unwrap().write_all(scripts[phase].as_bytes()).unwrap();
            child.stdin.as_mut().unwrap().flush().unwrap();
        }
        // The barrier: every host finished this phase.
        for _ in 0..hosts.len() {
            let (_, ok) = done_receiver.recv().unwrap();
            if !ok {
                return 1;
            }
        }
        if phase == 0 {
            // The first phase is the lock on one host: its barrier is every
            // session up, which the scale benchmark times.
            eprintln!("lower bound: every host connected");
        }
    }
    for child in &mut children {
        drop(child.stdin.take());
        let _ = child.wait();
    }
    0
}
