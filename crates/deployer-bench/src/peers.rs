//! `deployer-bench peers`: the same Capistrano-style deploy (shallow clone, a
//! shared `.env` link, one migration behind a fleet-wide barrier, an atomic
//! switch, a restart check, pruning to 5, a lock) with deployer, Fabric 3 and
//! pyinfra 3, interleaved in one run on one loopback sshd fleet, at 1, 10 and 50
//! hosts and 0 and 50 ms round-trip time. Each tool deploys to its own root on
//! every host. A cold deploy starts from hosts without that root (the old one
//! moved aside; the trees are deleted at the start of the next round, followed by
//! a pause, since ext4 is slow to create files just after a mass delete); a warm
//! one deploys the next commit over the last.
//!
//! The peers' scripts are in `crates/deployer-bench/peers/`; `scripts/bench
//! peers` installs the tools into `target/bench-peers` from `PyPI`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use deployer_fleet::{DEPLOY_PATH, Fleet, Options, PORT};

use crate::{DELAYED_PORT, Measure, cgroup, commit, git, median, run_deployer_with, start_delayed_fleet, write_config};

const SIZES: [usize; 3] = [1, 10, 50];
const ROUND_TRIPS: [u64; 2] = [0, 50];
const ROUNDS: usize = 3;

/// `BENCH_PEERS=<sizes>/<round trips>/<rounds>` (e.g. `1,10/0/1`) for a quick run.
fn shape() -> (Vec<usize>, Vec<u64>, usize) {
    let given = std::env::var("BENCH_PEERS").unwrap_or_default();
    let parts: Vec<&str> = given.split('/').collect();
    let list = |index: usize| -> Vec<u64> {
        parts.get(index).map(|text| text.split(',').filter_map(|item| item.parse().ok()).collect()).unwrap_or_default()
    };
    let sizes: Vec<usize> = list(0).into_iter().filter_map(|size| usize::try_from(size).ok()).collect();
    let round_trips = list(1);
    let rounds = list(2).first().and_then(|&rounds| usize::try_from(rounds).ok()).unwrap_or(ROUNDS);
    (
        if sizes.is_empty() { SIZES.to_vec() } else { sizes },
        if round_trips.is_empty() { ROUND_TRIPS.to_vec() } else { round_trips },
        rounds,
    )
}
/// One way deployer is configured in the comparison.
struct Variant {
    /// The tool's name in the table.
    name: &'static str,
    /// The environment it deploys (and its root on the hosts).
    environment: &'static str,
    /// What it adds to the `ssh:` and `execution:` sections.
    ssh: &'static str,
    execution: &'static str,
}

/// The settings a team after speed picks for its connections: the peers' key
/// exchange, masters kept between runs.
const TUNED_SSH: &str = "  key_exchange: curve25519\n  control_persist: 600\n";

/// deployer as installed; `tuned` (fast connections, hard-linked releases);
/// `pushed` (fast connections, the `push` strategy with zstd archives and
/// hard-linked releases: a redeploy receives only what changed).
const VARIANTS: [Variant; 3] = [
    Variant { name: "deployer", environment: "tool", ssh: "", execution: "" },
    Variant { name: "tuned", environment: "tuned", ssh: TUNED_SSH, execution: "  hardlink_releases: true\n" },
    Variant {
        name: "pushed",
        environment: "pushed",
        ssh: TUNED_SSH,
        execution: "  fetch_strategy: push\n  push_compression: zstd\n  hardlink_releases: true\n",
    },
];

/// deployer's variants, then the peers.
const TOOLS: [&str; 5] = ["deployer", "tuned", "pushed", "fabric", "pyinfra"];
const FIRST_PEER: usize = VARIANTS.len();

struct Setup<'a> {
    deployer: &'a Path,
    venv: PathBuf,
    scripts: PathBuf,
    work: PathBuf,
    fleet: &'a Fleet,
    url: String,
}

pub(crate) fn run(deployer: &Path) {
    let venv = std::fs::canonicalize("target/bench-peers").expect("scripts/bench peers installs the peers first");
    let scripts = std::fs::canonicalize("crates/deployer-bench/peers").unwrap();
    let (sizes, round_trips, rounds) = shape();
    let largest = sizes.iter().copied().max().unwrap_or(1);
    let own_disks = std::env::var("BENCH_PEERS_DISK").is_ok_and(|disk| disk == "tmpfs");
    // Limits, not allocations: what each host's run keeps (below 100 MB a tool).
    let options = Options { small_disk: own_disks.then_some((4096, 1_000_000)), ..Options::default() };
    let (work, fleet) = start_delayed_fleet(largest, ROUND_TRIPS[1], options);
    let source = work.join("source");
    let size = crate::mirror::sizeable_repository(&source);
    git(&source, &["gc", "--quiet"]);
    let setup = Setup { deployer, venv, scripts, url: format!("file://{}", source.display()), work, fleet: &fleet };
    // No master kept by an earlier run may serve this one.
    disconnect(deployer, &setup.work.join("config"));
    let mut second = 0u32;
    let mut rows = Vec::new();
    for &round_trip in &round_trips {
        for &hosts in &sizes {
            let port = if round_trip == 0 { PORT } else { DELAYED_PORT };
            let configs: Vec<PathBuf> =
                VARIANTS.iter().map(|variant| deployer_config(&setup, hosts, port, variant)).collect();
            let mut cold: Vec<Vec<Measure>> = TOOLS.iter().map(|_| Vec::new()).collect();
            let mut warm: Vec<Vec<Measure>> = TOOLS.iter().map(|_| Vec::new()).collect();
            for round in 0..rounds {
                // Each tool goes first in one round: whatever the first run pays, all pay.
                let order: Vec<usize> = (0..TOOLS.len()).map(|index| (index + round) % TOOLS.len()).collect();
                // The previous round's trees go now (then a pause, so the runs do
                // not pay for the delete), before this round's are moved aside: at
                // most two rounds of trees on the disk (about 9 GB each at 50 hosts).
                if own_disks {
                    // Memory, not disk: no round's trees are kept, and a tmpfs
                    // creates files no slower after a delete.
                    move_aside(&fleet, hosts, round);
                    clear_aside(&fleet, false);
                } else {
                    clear_aside(&fleet, true);
                    move_aside(&fleet, hosts, round);
                }
                commit(&source);
                for &tool in &order {
                    second += 1;
                    cold[tool].push(deploy(&setup, (TOOLS[tool], true), &configs, (hosts, port), second));
                }
                commit(&source);
                for &tool in &order {
                    second += 1;
                    warm[tool].push(deploy(&setup, (TOOLS[tool], false), &configs, (hosts, port), second));
                }
            }
            let cold: Vec<(Duration, Duration)> = cold.iter().map(|runs| medians(runs)).collect();
            let warm: Vec<(Duration, Duration)> = warm.iter().map(|runs| medians(runs)).collect();
            eprintln!("N={hosts} rtt={round_trip}ms cold {cold:?} warm {warm:?}");
            rows.push((hosts, round_trip, cold, warm));
        }
    }
    disconnect(deployer, &setup.work.join("config"));
    print_table(&rows, size, rounds, own_disks);
    let work = setup.work.clone();
    drop(setup);
    drop(fleet);
    let _ = std::fs::remove_dir_all(&work);
}

/// The bench's deployer configuration, with the workload's shared file,
/// migration and five releases, fetching the repository by URL as the peers do,
/// and `variant`'s settings, deploying to its environment. Each variant has a
/// file of its own (until 2026-11-29 the plain one was written over by the base
/// configuration the tuned one starts from, so the `deployer` column ran
/// without the shared file and the migration and cloned a local path; it is
/// checked here now).
fn deployer_config(setup: &Setup<'_>, hosts: usize, port: u16, variant: &Variant) -> PathBuf {
    let base = write_config(&setup.work, setup.fleet, hosts, port);
    let text =
        workload_config(&std::fs::read_to_string(&base).unwrap(), &setup.work.join("source"), &setup.url, variant);
    let path = base.with_file_name(format!("peers-{}-{}", variant.name, base.file_name().unwrap().to_string_lossy()));
    std::fs::write(&path, text).unwrap();
    path
}

/// `base` (the bench's configuration) with the peer workload, and `variant`'s
/// settings and environment.
fn workload_config(base: &str, source: &Path, url: &str, variant: &Variant) -> String {
    let mut text = base.replace(&format!("repo: {}\n", source.display()), &format!("repo: {url}\n")).replace(
        "keep_releases: 3\n",
        "keep_releases: 5\nshared_files: [.env]\nmigrate: {role: web, command: \"true\"}\n",
    );
    assert!(text.contains(&format!("repo: {url}\n")) && text.contains("migrate:"), "the workload is not in:\n{text}");
    for (section, added) in [("ssh:\n", variant.ssh), ("execution:\n", variant.execution)] {
        assert!(text.contains(section), "the bench configuration has no {section}");
        text = text.replacen(section, &format!("{section}{added}"), 1);
    }
    text.replacen("  tool: {", &format!("  {}: {{", variant.environment), 1)
}

/// One deploy by `tool` to the first `hosts` hosts; `second` makes release ids
/// distinct without waiting. deployer's first deploy to a host is
/// `create_environment` (it makes the layout and the shared files, as the
/// peers' lock step does); later ones `deploy_full`.
fn deploy(
    setup: &Setup<'_>,
    (tool, cold): (&str, bool),
    configs: &[PathBuf],
    (hosts, port): (usize, u16),
    second: u32,
) -> Measure {
    let now = format!("2030-01-01T{:02}:{:02}:{:02}Z", second / 3600, (second / 60) % 60, second % 60);
    settle(setup.fleet);
    if let Some(index) = VARIANTS.iter().position(|variant| variant.name == tool) {
        let (config, environment) = (&configs[index], VARIANTS[index].environment);
        if cold {
            // A cold deploy has no master to reuse (`tuned` and `pushed` keep them).
            disconnect(setup.deployer, config);
        }
        let command = if cold { "create_environment" } else { "deploy_full" };
        let measure = run_deployer_with(setup.deployer, config, &[command, environment], Some(&now));
        assert!(measure.stderr.iter().any(|(_, line)| line.starts_with("done")), "deployer failed");
        return measure;
    }
    let release = format!("2030{second:010}");
    let addresses: Vec<String> =
        setup.fleet.hosts[..hosts].iter().map(|host| format!("{}:{port}", host.address)).collect();
    let mut command = if tool == "fabric" {
        let mut command = Command::new(setup.venv.join("bin/python"));
        command.arg(setup.scripts.join("fabric_deploy.py")).arg(setup.fleet.client_key());
        command.args(addresses.iter().map(|address| format!("{}@{address}", setup.fleet.user)));
        command
    } else {
        let mut command = Command::new(setup.venv.join("bin/pyinfra"));
        command.args(["-y", "--parallel", &hosts.to_string(), "pyinfra_inventory.py", "pyinfra_deploy.py"]);
        command
            .env("PEER_HOSTS", addresses.join(" "))
            .env("PEER_USER", &setup.fleet.user)
            .env("PEER_KEY", setup.fleet.client_key())
            .env("PEER_KNOWN_HOSTS", setup.work.join("known_hosts"));
        command
    };
    command
        .current_dir(&setup.scripts)
        .env("HOME", &setup.work)
        .env("PEER_ROOT", format!("{DEPLOY_PATH}/{tool}"))
        .env("PEER_URL", &setup.url)
        .env("PEER_RELEASE", &release);
    let run = cgroup::run(&format!("dpl-{tool}"), &command);
    assert!(run.status.success(), "{tool} failed:\n{}", run.stderr_text());
    Measure::of(run, None)
}

/// Waits for deployer's background deletes of pruned releases (a deploy does
/// not wait for them; the next run, whichever tool's, should not pay for them
/// either), then writes out every file the previous runs left unwritten,
/// unmeasured. The hosts share one disk here (on a fleet each has its own):
/// without this a deploy that flushes what it writes would wait for the other
/// tools' clones, and one that does not would run beside their writeback.
fn settle(fleet: &Fleet) {
    let started = std::time::Instant::now();
    for host in &fleet.hosts {
        for root in VARIANTS.map(|variant| variant.environment) {
            let pruned = host.files.join(root).join("releases/.deployer-pruned");
            while std::fs::read_dir(&pruned).is_ok_and(|mut entries| entries.next().is_some()) {
                assert!(started.elapsed() < Duration::from_mins(5), "{} is not emptied", pruned.display());
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    assert!(Command::new("sync").status().unwrap().success(), "sync failed");
}

/// `deployer disconnect`, unmeasured: no master is kept for the next run.
fn disconnect(deployer: &Path, config: &Path) {
    let status = Command::new(deployer)
        .arg("disconnect")
        .env("HOME", config.parent().unwrap())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "deployer disconnect failed");
}

/// Every tool's root on the first `hosts` hosts, moved out of the way.
fn move_aside(fleet: &Fleet, hosts: usize, round: usize) {
    for host in &fleet.hosts[..hosts] {
        for root in VARIANTS.map(|variant| variant.environment).into_iter().chain(["fabric", "pyinfra"]) {
            let path = host.files.join(root);
            if path.exists() {
                std::fs::rename(&path, host.files.join(format!(".aside-{root}-{round}"))).unwrap();
            }
        }
    }
}

/// The roots moved aside, removed (then, with `pause`, a pause, so the next
/// runs do not pay for the delete).
fn clear_aside(fleet: &Fleet, pause: bool) {
    let mut removed = false;
    for host in &fleet.hosts {
        for entry in std::fs::read_dir(&host.files).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(".aside-") {
                let _ = std::fs::remove_dir_all(entry.path());
                removed = true;
            }
        }
    }
    if removed && pause {
        std::thread::sleep(Duration::from_secs(20));
    }
}

/// The median wall and CPU time of `runs`.
fn medians(runs: &[Measure]) -> (Duration, Duration) {
    (median(runs.iter().map(|run| run.wall).collect()), median(runs.iter().map(|run| run.cpu).collect()))
}

type Row = (usize, u64, Vec<(Duration, Duration)>, Vec<(Duration, Duration)>);

fn print_table(rows: &[Row], size: f64, rounds: usize, own_disks: bool) {
    println!("Repository: 2,000 files, {size:.1} MB working tree, packed. Medians of {rounds} interleaved rounds.");
    if own_disks {
        println!(
            "Each host's files on a tmpfs of its own (BENCH_PEERS_DISK=tmpfs): no host waits for another's writes."
        );
    }
    for variant in &VARIANTS[1..] {
        println!(
            "`{}`: deployer with{}{}",
            variant.name,
            settings(variant.ssh, "ssh"),
            settings(variant.execution, "execution")
        );
    }
    let names = ["deployer", "tuned", "pushed", "Fabric", "pyinfra"];
    let ratios: Vec<String> = names[..FIRST_PEER].iter().map(|name| format!("best peer / {name}")).collect();
    let cpus: Vec<String> = names.iter().map(|name| format!("CPU {name}")).collect();
    println!("\n| N | RTT | deploy | {} | {} | {} |", names.join(" | "), ratios.join(" | "), cpus.join(" | "));
    println!("|---:|---:|---|{}", "---:|".repeat(names.len() * 2 + FIRST_PEER));
    for (hosts, round_trip, cold, warm) in rows {
        for (kind, runs) in [("cold", cold), ("warm", warm)] {
            let wall: Vec<f64> = runs.iter().map(|run| run.0.as_secs_f64()).collect();
            let best_peer = wall[FIRST_PEER..].iter().copied().fold(f64::INFINITY, f64::min);
            let cells: Vec<String> = wall
                .iter()
                .map(|seconds| format!("{seconds:.2} s"))
                .chain(wall[..FIRST_PEER].iter().map(|seconds| format!("{:.2}x", best_peer / seconds)))
                .chain(runs.iter().map(|run| format!("{:.2} s", run.1.as_secs_f64())))
                .collect();
            println!("| {hosts} | {round_trip} ms | {kind} | {} |", cells.join(" | "));
        }
    }
}

/// ` `key: value`, ...` for each line a variant adds to `section`.
fn settings(added: &str, section: &str) -> String {
    added.lines().map(|line| format!(" `{section}.{}`", line.trim())).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_deployer_variant_runs_the_same_workload_as_the_peers() {
        let base = "project: bench\nrepo: /w/source\nkeep_releases: 3\nssh:\n  identity_file: k\nexecution:\n  pool_size: 100\nenvironments:\n  tool: {branch: main}\n";
        for variant in &VARIANTS {
            let text = workload_config(base, Path::new("/w/source"), "file:///w/source", variant);
            assert!(text.contains("repo: file:///w/source\n"), "{text}");
            assert!(text.contains("shared_files: [.env]\nmigrate: {role: web, command: \"true\"}\n"), "{text}");
            assert!(text.contains("keep_releases: 5\n"), "{text}");
            assert_eq!(text.contains("hardlink_releases: true"), variant.name != "deployer", "{text}");
            assert_eq!(text.contains("fetch_strategy: push"), variant.name == "pushed", "{text}");
            assert!(text.contains(&format!("  {}: {{branch: main}}", variant.environment)), "{text}");
            assert_eq!(text.contains("key_exchange: curve25519"), variant.name != "deployer", "{text}");
        }
    }
}
