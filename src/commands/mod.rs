//! One file per command; each returns the exit code or an error for `run` to render.

mod check;
mod docs;
mod hosts;
mod plan;

use crate::cli::{Cli, Command, LockAction};
use crate::context::CliError;
use crate::exit::Exit;

pub(crate) fn dispatch(cli: Cli) -> Result<Exit, CliError> {
    let global = &cli.global;
    match cli.command {
        Command::Check { environment } => check::run(global, environment.as_deref()),
        Command::Hosts(target) => hosts::run(global, &target),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out_dir } => docs::man_pages(&out_dir),
        Command::CreateEnvironment(_) => Err(CliError::NotYetAvailable("create_environment")),
        Command::DeployFull(_) => Err(CliError::NotYetAvailable("deploy_full")),
        Command::DeploySerial(_) => Err(CliError::NotYetAvailable("deploy_serial")),
        Command::Rollback(_) => Err(CliError::NotYetAvailable("rollback")),
        Command::BeginUpgrade(_) => Err(CliError::NotYetAvailable("begin_upgrade")),
        Command::EndUpgrade(_) => Err(CliError::NotYetAvailable("end_upgrade")),
        Command::UpdateServerPasswords(_) => Err(CliError::NotYetAvailable("update_server_passwords")),
        Command::Plan { command } => plan::run(global, &command),
        Command::Status(_) => Err(CliError::NotYetAvailable("status")),
        Command::Run { .. } => Err(CliError::NotYetAvailable("run")),
        Command::Lock { action: LockAction::Status(_) | LockAction::Release { .. } } => {
            Err(CliError::NotYetAvailable("lock"))
        }
    }
}
