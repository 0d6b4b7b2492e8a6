//! `deployer-bench`: deploys one release to N = 1, 10, 50 and 100 real sshd hosts
//! with deployer and with a plain-OpenSSH lower bound, at 0 ms and 50 ms round-trip
//! time, and prints wall time, controller CPU time and deployer's peak memory.
//!
//! The lower bound runs the same plan's scripts with one plain `ssh host sh -s`
//! session per host, phases separated by barriers (the next phase's script is
//! written to stdin once every host finished the previous one). It has no
//! `ControlMaster`, no per-phase channel, no markers, no logs.
//!
//! Controller CPU is counted with a cgroup (cpuacct), so it includes every ssh
//! process the controller starts, daemonized masters too. Needs root.
//!
//! Run: `scripts/bench` (or `cargo run --release -p deployer-bench`);
//! `scripts/bench mirror` and `scripts/bench waves` for the other comparisons.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cgroup;
mod lower_bound;
mod mirror;
mod peers;
mod proxy;
mod scale;
mod waves;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deployer_fleet::{DEPLOY_PATH, Fleet, Options, PORT};

/// Delayed hosts listen on this port, on the same address as the real ones.
const DELAYED_PORT: u16 = 2223;

const SIZES: [usize; 4] = [1, 10, 50, 100];
const ROUND_TRIPS: [u64; 2] = [0, 50];

pub(crate) struct Measure {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
    /// deployer's own peak resident memory (not its ssh processes').
    pub(crate) peak_kb: Option<u64>,
    /// The most `ssh` processes alive at once.
    pub(crate) peak_ssh: u64,
    /// The most resident memory of the controller and everything it started.
    pub(crate) peak_memory: u64,
    /// Standard error lines, with when each arrived.
    pub(crate) stderr: Vec<(Duration, String)>,
}

impl Measure {
    pub(crate) fn of(run: cgroup::CgroupRun, peak_kb: Option<u64>) -> Self {
        Self {
            wall: run.wall,
            cpu: run.cpu,
            peak_kb,
            peak_ssh: run.peak_ssh,
            peak_memory: run.peak_memory,
            stderr: run.stderr,
        }
    }

    /// The median wall and CPU time of `runs` (each taken on its own), and the
    /// highest of their peaks.
    pub(crate) fn median(mut runs: Vec<Self>) -> Self {
        let wall = median(runs.iter().map(|run| run.wall).collect());
        let cpu = median(runs.iter().map(|run| run.cpu).collect());
        let peak_kb = runs.iter().filter_map(|run| run.peak_kb).max();
        let peak_ssh = runs.iter().map(|run| run.peak_ssh).max().unwrap_or(0);
        let peak_memory = runs.iter().map(|run| run.peak_memory).max().unwrap_or(0);
        let mut median_run = runs.swap_remove(0);
        median_run.wall = wall;
        median_run.cpu = cpu;
        median_run.peak_kb = peak_kb;
        median_run.peak_ssh = peak_ssh;
        median_run.peak_memory = peak_memory;
        median_run
    }

    /// When the first line containing `text` arrived.
    pub(crate) fn when(&self, text: &str) -> Option<Duration> {
        self.stderr.iter().find(|(_, line)| line.contains(text)).map(|(at, _)| *at)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("lower-bound") {
        let plan = camino::Utf8PathBuf::from(&args[2]);
        std::process::exit(lower_bound::child_main(&plan, &args[3], &args[4]));
    }
    if let Some(reason) = Fleet::unavailable() {
        eprintln!("deployer-bench: {reason}");
        std::process::exit(2);
    }
    if args.get(1).map(String::as_str) == Some("waves") {
        let deployer = args.get(2).map_or("target/release/deployer", String::as_str);
        waves::run(&std::fs::canonicalize(deployer).expect("build deployer first"));
        return;
    }
    if args.get(1).map(String::as_str) == Some("scale") {
        let deployer = args.get(2).map_or("target/release/deployer", String::as_str);
        let rest = &args[3.min(args.len())..];
        let sizes: Vec<usize> = rest.iter().filter_map(|size| size.parse().ok()).collect();
        let sizes = if sizes.is_empty() { scale::DEFAULT_SIZES.to_vec() } else { sizes };
        let with_budget = !rest.iter().any(|arg| arg == "--no-budget");
        scale::run(&std::fs::canonicalize(deployer).expect("build deployer first"), &sizes, with_budget);
        return;
    }
    if args.get(1).map(String::as_str) == Some("peers") {
        let deployer = args.get(2).map_or_else(|| PathBuf::from("target/release/deployer"), PathBuf::from);
        peers::run(&std::fs::canonicalize(&deployer).expect("build deployer first"));
        return;
    }
    if args.get(1).map(String::as_str) == Some("mirror") {
        let deployer = args.get(2).map_or("target/release/deployer", String::as_str);
        mirror::run(&std::fs::canonicalize(deployer).expect("build deployer first"));
        return;
    }
    let deployer = std::env::args().nth(1).map_or_else(|| PathBuf::from("target/release/deployer"), PathBuf::from);
    let deployer =
        std::fs::canonicalize(&deployer).unwrap_or_else(|_| panic!("build deployer first: {}", deployer.display()));
    // `BENCH_ROUNDS=3`: medians of three interleaved deploys per cell, since one
    // deploy per cell does not tell a few percent of controller CPU apart here.
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|rounds| rounds.parse().ok()).unwrap_or(1_usize).max(1);
    let (work, fleet) = start_delayed_fleet(SIZES[3], ROUND_TRIPS[1], Options::default());
    let source = work.join("source");
    init_repository(&source);

    let mut rows = Vec::new();
    for round_trip in ROUND_TRIPS {
        for size in SIZES {
            let port = if round_trip == 0 { PORT } else { DELAYED_PORT };
            let config = write_config(&work, &fleet, size, port);
            // Warm-up: each variant's mirror on every host, so measured runs fetch one commit.
            commit(&source);
            let _ = run_deployer(&deployer, &config, "tool");
            let _ = lower_bound::run(&config, "plain", &work, &fleet);
            let (mut tools, mut plains) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                // Each goes first in every other round, so neither always meets
                // the other's leftovers (page cache, sshd children exiting).
                for tool_now in if round % 2 == 0 { [true, false] } else { [false, true] } {
                    commit(&source);
                    if tool_now {
                        std::thread::sleep(Duration::from_millis(1100)); // a new release id (one-second stamps)
                        tools.push(run_deployer(&deployer, &config, "tool"));
                    } else {
                        plains.push(lower_bound::run(&config, "plain", &work, &fleet));
                    }
                }
            }
            let (tool, plain) = (Measure::median(tools), Measure::median(plains));
            eprintln!(
                "N={size:>3} rtt={round_trip:>2}ms  deployer {:>6.2}s cpu {:>5.2}s rss {:>6} KB | lower bound {:>6.2}s cpu {:>5.2}s",
                tool.wall.as_secs_f64(),
                tool.cpu.as_secs_f64(),
                tool.peak_kb.unwrap_or(0),
                plain.wall.as_secs_f64(),
                plain.cpu.as_secs_f64()
            );
            rows.push((size, round_trip, tool, plain));
        }
    }
    println!("Medians of {rounds} interleaved round(s) per cell.");
    println!(
        "| N | RTT | deployer wall | lower bound wall | wall ratio | deployer CPU | lower bound CPU | CPU ratio | deployer peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (size, round_trip, tool, plain) in &rows {
        println!(
            "| {size} | {round_trip} ms | {:.2} s | {:.2} s | {:.2}x | {:.2} s | {:.2} s | {:.2}x | {:.1} MB |",
            tool.wall.as_secs_f64(),
            plain.wall.as_secs_f64(),
            tool.wall.as_secs_f64() / plain.wall.as_secs_f64(),
            tool.cpu.as_secs_f64(),
            plain.cpu.as_secs_f64(),
            tool.cpu.as_secs_f64() / plain.cpu.as_secs_f64().max(0.001),
            tool.peak_kb.unwrap_or(0) as f64 / 1024.0,
        );
    }
    drop(fleet);
    let _ = std::fs::remove_dir_all(&work);
}

/// The middle of `values` (the upper one of an even count).
pub(crate) fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// [`start_fleet`], each host also reachable at [`DELAYED_PORT`] through a proxy
/// that adds `round_trip` ms (its keys in `known_hosts` under both ports). The
/// proxies run as long as the process.
pub(crate) fn start_delayed_fleet(hosts: usize, round_trip: u64, options: Options) -> (PathBuf, Fleet) {
    let (work, fleet) = start_fleet_with(hosts, options);
    let runtime = Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
    ));
    let mut known = std::fs::read_to_string(fleet.known_hosts()).unwrap();
    for host in &fleet.hosts {
        let upstream = SocketAddr::from((host.address, PORT));
        let listen = SocketAddr::from((host.address, DELAYED_PORT));
        runtime.block_on(proxy::serve(listen, upstream, Duration::from_millis(round_trip))).expect("the proxy listens");
    }
    for line in known.clone().lines() {
        known.push_str(&line.replace(&format!("]:{PORT} "), &format!("]:{DELAYED_PORT} ")));
        known.push('\n');
    }
    std::fs::write(work.join("known_hosts"), known).unwrap();
    (work, fleet)
}

/// A work directory with `hosts` sshd hosts and their `known_hosts` beside it.
pub(crate) fn start_fleet(hosts: usize) -> (PathBuf, Fleet) {
    start_fleet_with(hosts, Options::default())
}

/// [`start_fleet`] with fleet options (each host's files on a tmpfs of its own).
pub(crate) fn start_fleet_with(hosts: usize, options: Options) -> (PathBuf, Fleet) {
    let work = tempfile_dir();
    eprintln!("starting {hosts} sshd hosts in {}", work.display());
    let fleet = Fleet::start_with(hosts, &work.join("fleet"), options).expect("the fleet starts");
    std::fs::copy(fleet.known_hosts(), work.join("known_hosts")).unwrap();
    (work, fleet)
}

pub(crate) fn tempfile_dir() -> PathBuf {
    let path = PathBuf::from(format!("/tmp/dpl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&path).unwrap();
    path
}

pub(crate) fn git(directory: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "init.defaultBranch=main", "-C"])
        .arg(directory)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A small application: a few hundred files, like a modest web app.
pub(crate) fn init_repository(source: &Path) {
    std::fs::create_dir_all(source.join("app")).unwrap();
    git(source, &["init", "-q"]);
    for index in 0..300 {
        std::fs::write(
            source.join("app").join(format!("module{index}.py")),
            format!("# module {index}\n{}\n", "x = 1\n".repeat(50)),
        )
        .unwrap();
    }
    commit(source);
}

pub(crate) fn commit(source: &Path) {
    let stamp = format!("{:?}", Instant::now());
    std::fs::write(source.join("VERSION"), stamp).unwrap();
    git(source, &["add", "."]);
    git(source, &["commit", "-q", "-m", "bench"]);
}

pub(crate) fn write_config(work: &Path, fleet: &Fleet, size: usize, port: u16) -> PathBuf {
    let hosts: Vec<String> =
        fleet.hosts[..size].iter().map(|host| format!("\"{}@{}:{port}\"", fleet.user, host.address)).collect();
    let config = format!(
        "project: bench\n\
         repo: {source}\n\
         deploy_root: {DEPLOY_PATH}\n\
         keep_releases: 3\n\
         valid_roles: [web]\n\
         roles:\n\
         \x20 web:\n\
         \x20   restart: \"true\"\n\
         \x20   healthcheck: test -f VERSION\n\
         ssh:\n\
         \x20 known_hosts_file: {known}\n\
         \x20 identity_file: {key}\n\
         execution:\n\
         \x20 pool_size: 100\n\
         environments:\n\
         \x20 tool: {{branch: main, roles: {{web: [{list}]}}}}\n\
         \x20 plain: {{branch: main, roles: {{web: [{list}]}}}}\n",
        source = work.join("source").display(),
        known = work.join("known_hosts").display(),
        key = fleet.client_key().display(),
        list = hosts.join(", "),
    );
    let path = work.join(format!("config-{size}-{port}.yml"));
    std::fs::write(&path, config).unwrap();
    path
}

pub(crate) fn run_deployer(deployer: &Path, config: &Path, environment: &str) -> Measure {
    run_deployer_with(deployer, config, &["deploy_full", environment], None)
}

/// `deployer ARGS` with the configuration `config`, taking `now` as the time
/// (`DEPLOYER_NOW`, so back-to-back deploys get distinct release ids without waiting).
pub(crate) fn run_deployer_with(deployer: &Path, config: &Path, args: &[&str], now: Option<&str>) -> Measure {
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "peak-rss-kb=%M"])
        .arg(deployer)
        .arg("-c")
        .arg(config)
        .args(args)
        .env("HOME", config.parent().unwrap());
    if let Some(now) = now {
        command.env("DEPLOYER_NOW", now);
    }
    let run = cgroup::run("dpl-tool", &command);
    let stderr = run.stderr_text();
    if !run.status.success() {
        eprintln!("deployer failed:\n{stderr}");
    }
    let peak_kb =
        stderr.lines().find_map(|line| line.strip_prefix("peak-rss-kb=")).and_then(|kb| kb.trim().parse().ok());
    Measure::of(run, peak_kb)
}
