//! `deployer-bench scale [SIZES...]`: one release deployed to 250, 500 and 1,000
//! real sshd hosts (by default), interleaved in one run: deployer with every host
//! connected, deployer with `ssh.max_connections: 100`, and the plain-OpenSSH
//! lower bound. Reports wall time, controller CPU, the most `ssh` processes alive
//! at once, the controller's total resident memory (deployer and every process it
//! started, ssh masters included) and handshakes per second while connecting.
//!
//! Every variant works on all hosts at once (`pool_size` = the fleet), as the
//! lower bound does. Each size is warmed up first (each variant's mirror on every
//! host), so measured runs fetch one commit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deployer_fleet::PORT;

use crate::{Measure, commit, lower_bound, run_deployer_with, start_fleet, write_config};

pub(crate) const DEFAULT_SIZES: [usize; 3] = [250, 500, 1000];
const BUDGET: usize = 100;

struct Row {
    size: usize,
    variant: &'static str,
    measure: Measure,
    /// Handshakes per second while connecting every host.
    handshakes_per_second: Option<f64>,
}

/// `with_budget`: also the `max_connections: 100` variant (the slow one).
pub(crate) fn run(deployer: &Path, sizes: &[usize], with_budget: bool) {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let (work, fleet) = start_fleet(largest);
    let source = work.join("source");
    crate::init_repository(&source);
    let mut second = 0;
    let mut deploy = |config: &Path| -> Measure {
        second += 1;
        commit(&source);
        let now = format!("2030-01-01T{:02}:{:02}:{:02}Z", second / 3600, (second / 60) % 60, second % 60);
        run_deployer_with(deployer, config, &["deploy_full", "tool"], Some(&now))
    };
    let mut rows = Vec::new();
    for &size in sizes {
        let config = all_at_once(&write_config(&work, &fleet, size, PORT), size, None);
        let budget = all_at_once(&config, size, Some(BUDGET));
        eprintln!("N={size}: warming up");
        let _ = deploy(&config);
        let _ = lower_bound::run(&config, "plain", &work, &fleet);
        let connected = |measure: &Measure, from: &str, to: &str| {
            let (from, to) = (measure.when(from)?, measure.when(to)?);
            Some(size as f64 / (to.saturating_sub(from)).max(Duration::from_millis(1)).as_secs_f64())
        };
        let tool = deploy(&config);
        let rate = connected(&tool, "connecting to", "phase 1/");
        rows.push(Row { size, variant: "deployer", measure: tool, handshakes_per_second: rate });
        commit(&work.join("source"));
        let plain = lower_bound::run(&config, "plain", &work, &fleet);
        let rate = plain.when("every host connected").map(|at| size as f64 / at.as_secs_f64());
        rows.push(Row { size, variant: "lower bound", measure: plain, handshakes_per_second: rate });
        if with_budget {
            let capped = deploy(&budget);
            let rate = connected(&capped, "connecting to", "phase 1/");
            rows.push(Row {
                size,
                variant: "deployer, max_connections 100",
                measure: capped,
                handshakes_per_second: rate,
            });
        }
        for row in rows.iter().filter(|row| row.size == size) {
            eprintln!("{}", line(row, &rows));
        }
    }
    println!(
        "| N | variant | wall | wall vs lower bound | controller CPU | CPU vs lower bound | peak ssh processes | controller memory (all processes) | handshakes/s |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!("{}", line(row, &rows));
    }
    drop(fleet);
    let _ = std::fs::remove_dir_all(&work);
}

/// One table row; ratios against the lower bound of the same size.
fn line(row: &Row, rows: &[Row]) -> String {
    let lower = rows.iter().find(|other| other.size == row.size && other.variant == "lower bound");
    let ratio = |value: f64, of: Option<f64>| of.map_or("—".to_owned(), |of| format!("{:.2}x", value / of.max(1e-9)));
    let measure = &row.measure;
    format!(
        "| {} | {} | {:.1} s | {} | {:.1} s | {} | {} | {:.0} MB | {} |",
        row.size,
        row.variant,
        measure.wall.as_secs_f64(),
        ratio(measure.wall.as_secs_f64(), lower.map(|lower| lower.measure.wall.as_secs_f64())),
        measure.cpu.as_secs_f64(),
        ratio(measure.cpu.as_secs_f64(), lower.map(|lower| lower.measure.cpu.as_secs_f64())),
        measure.peak_ssh,
        measure.peak_memory as f64 / 1e6,
        row.handshakes_per_second.map_or("—".to_owned(), |rate| format!("{rate:.0}")),
    )
}

/// `config` with every host worked on at once and, with `budget`, at most that
/// many connections open; written beside it.
fn all_at_once(config: &Path, size: usize, budget: Option<usize>) -> PathBuf {
    let text = std::fs::read_to_string(config).unwrap().replace("pool_size: 100", &format!("pool_size: {size}"));
    let (text, suffix) = match budget {
        Some(limit) => (text.replace("ssh:\n", &format!("ssh:\n  max_connections: {limit}\n")), "-budget"),
        None => (text, ""),
    };
    let path = config.with_file_name(format!("scale-{size}{suffix}.yml"));
    std::fs::write(&path, text).unwrap();
    path
}
