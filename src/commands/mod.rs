//! One file per command; each returns the exit code or an error for `run` to render.

mod check;
mod describe;
mod disconnect;
mod docs;
mod execute;
mod hosts;
mod plan;
mod resume;
mod status;

use crate::cli::{Cli, Command, LockAction};
use crate::context::CliError;
use crate::exit::Exit;

pub(crate) fn dispatch(cli: Cli) -> Result<Exit, CliError> {
    let global = &cli.global;
    match cli.command {
        command @ (Command::CreateEnvironment(_)
        | Command::CreateImage(_)
        | Command::Recover(_)
        | Command::DeployFull(_)
        | Command::DeploySerial(_)
        | Command::Rollback(_)
        | Command::BeginUpgrade(_)
        | Command::EndUpgrade(_)
        | Command::UpdateServerPasswords(_)
        | Command::Task(_)
        | Command::SuspendAutoscalingProcesses(_)
        | Command::ResumeAutoscalingProcesses(_)
        | Command::Run { .. }) => execute::run(global, command),
        Command::Resume(args) => resume::run(global, args),
        Command::Check { environment } => check::run(global, environment.as_deref()),
        Command::Hosts(target) => hosts::run(global, &target),
        Command::Describe(target) => describe::run(global, &target),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out_dir } => docs::man_pages(out_dir.as_deref()),
        Command::Plan { .. } => Err(CliError::NoPlan("plan")),
        Command::Status(target) => status::status(global, &target),
        Command::Disconnect => disconnect::run(),
        Command::Lock { action: LockAction::Status(target) } => status::lock_status(global, &target),
        Command::Lock { action: LockAction::Release { target, id } } => status::lock_release(global, &target, &id),
    }
}

/// `deployer plan ...`, parsed as the planned command itself.
pub(crate) fn plan(cli: Cli) -> Result<Exit, CliError> {
    plan::run(&cli.global, cli.command)
}
