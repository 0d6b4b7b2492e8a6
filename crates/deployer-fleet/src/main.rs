//! `deployer-fleet up N [DIR] [--netns]` / `deployer-fleet down [DIR]`: a fleet of
//! real sshd hosts on loopback, or in network namespaces, for trying deployer by
//! hand (see `scripts/fleet`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use deployer_fleet::{Fleet, Network, Options};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let namespaced = args.iter().any(|arg| arg == "--netns");
    args.retain(|arg| arg != "--netns");
    let options =
        Options { network: if namespaced { Network::Namespaces } else { Network::Loopback }, ..Options::default() };
    let default_dir = || PathBuf::from("/tmp/deployer-fleet");
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["up", count, rest @ ..] => match count.parse::<usize>() {
            Ok(count) => {
                let directory = rest.first().map_or_else(default_dir, PathBuf::from);
                // A fleet already kept in this directory is stopped first, or its
                // hosts would run on with nothing left to stop them by.
                let _ = Fleet::stop_kept(&directory);
                Fleet::start_with(count, &directory, options).map(|mut fleet| {
                    fleet.keep_running();
                    println!("{}", fleet.describe());
                    if let Some(namespace) = fleet.client_namespace() {
                        println!("# the hosts are reachable only from the namespace {namespace}; run deployer there:");
                        println!("#   ip netns exec {namespace} deployer ...");
                    }
                    println!("# stop it with: scripts/fleet down {}", directory.display());
                })
            }
            Err(_) => Err(format!("`{count}` is not a number of hosts")),
        },
        ["down", rest @ ..] => {
            let directory = rest.first().map_or_else(default_dir, PathBuf::from);
            Fleet::stop_kept(&directory).map(|stopped| match stopped {
                1 => println!("stopped 1 host"),
                count => println!("stopped {count} hosts"),
            })
        }
        _ => Err("usage: deployer-fleet up N [DIR] [--netns] | deployer-fleet down [DIR]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("deployer-fleet: {error}");
            ExitCode::FAILURE
        }
    }
}
