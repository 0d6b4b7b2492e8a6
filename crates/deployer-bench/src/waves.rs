//! `deployer-bench waves`: what a rollout in waves costs over plain batches. On
//! 50 hosts, `deploy_serial --waves 17,34,50` (three waves, no bake, no gate)
//! against `deploy_serial --batch-size 17` (the same three groups), interleaved,
//! each deploying a new commit; and a canary rollout `--waves 1,30%,100%` for
//! reference. Reports the median wall and controller CPU of each.

use std::path::Path;
use std::time::Duration;

use deployer_fleet::PORT;

use crate::{Measure, commit, run_deployer_with, start_fleet, write_config};

const HOSTS: usize = 50;
const ROUNDS: usize = 5;

pub(crate) fn run(deployer: &Path) {
    let (work, fleet) = start_fleet(HOSTS);
    let source = work.join("source");
    crate::init_repository(&source);
    let config = write_config(&work, &fleet, HOSTS, PORT);

    // Each deploy takes the next second as its time: a new release id, no waiting.
    let mut second = 0;
    let mut deploy = |args: &[&str]| -> Measure {
        second += 1;
        commit(&source);
        let now = format!("2030-01-01T{:02}:{:02}:{:02}Z", second / 3600, (second / 60) % 60, second % 60);
        run_deployer_with(deployer, &config, args, Some(&now))
    };
    // Warm-up: the mirrors on every host, so measured runs fetch one commit.
    let _ = deploy(&["deploy_full", "tool"]);
    let variants: [(&str, &[&str]); 3] = [
        ("batches of 17 (`--batch-size 17`)", &["deploy_serial", "tool", "--batch-size", "17"]),
        ("3 waves of 17 (`--waves 17,34,50`)", &["deploy_serial", "tool", "--waves", "17,34,50"]),
        ("canary rollout (`--waves 1,30%,100%`)", &["deploy_serial", "tool", "--waves", "1,30%,100%"]),
    ];
    let mut measured: Vec<Vec<Measure>> = variants.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        for (index, (name, args)) in variants.iter().enumerate() {
            let measure = deploy(args);
            eprintln!(
                "round {round}: {name}: {:.2}s, cpu {:.2}s",
                measure.wall.as_secs_f64(),
                measure.cpu.as_secs_f64()
            );
            measured[index].push(measure);
        }
    }
    let medians: Vec<(Duration, Duration)> = measured
        .into_iter()
        .map(|runs| {
            let middle = Measure::median(runs);
            (middle.wall, middle.cpu)
        })
        .collect();
    println!("| {HOSTS} hosts, median of {ROUNDS} interleaved runs | wall | controller CPU | wall vs batches |");
    println!("|---|---:|---:|---:|");
    for ((name, _), (wall, cpu)) in variants.iter().zip(&medians) {
        println!(
            "| {name} | {:.2} s | {:.2} s | {:.2}x |",
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            wall.as_secs_f64() / medians[0].0.as_secs_f64()
        );
    }
    drop(fleet);
    let _ = std::fs::remove_dir_all(&work);
}
