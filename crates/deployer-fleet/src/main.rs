//! `deployer-fleet up N [DIR]` / `deployer-fleet down [DIR]`: a fleet of real sshd
//! hosts on loopback for trying deployer by hand (see `scripts/fleet`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use deployer_fleet::Fleet;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default_dir = || PathBuf::from("/tmp/deployer-fleet");
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["up", count, rest @ ..] => match count.parse::<usize>() {
            Ok(count) => {
                let directory = rest.first().map_or_else(default_dir, PathBuf::from);
                Fleet::start(count, &directory).map(|mut fleet| {
                    fleet.keep_running();
                    println!("{}", fleet.describe());
                    println!("stop it with: scripts/fleet down {}", directory.display());
                })
            }
            Err(_) => Err(format!("`{count}` is not a number of hosts")),
        },
        ["down", rest @ ..] => {
            let directory = rest.first().map_or_else(default_dir, PathBuf::from);
            Fleet::stop_kept(&directory).map(|stopped| println!("stopped {stopped} host(s)"))
        }
        _ => Err("usage: deployer-fleet up N [DIR] | deployer-fleet down [DIR]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("deployer-fleet: {error}");
            ExitCode::FAILURE
        }
    }
}
