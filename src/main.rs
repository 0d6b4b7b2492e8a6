//! The `deployer` command. Everything happens in `run`; this file only wires modules.

mod audit;
mod changes;
mod cli;
mod cloud;
mod commands;
mod completion;
mod context;
mod diagnostics;
mod discovery;
mod exit;
mod invocation;
mod limits;
mod notify;
mod output;
mod planning;
mod push;
mod report;
mod revision;
mod run;
mod signals;

fn main() -> std::process::ExitCode {
    run::run(std::env::args_os())
}
