//! `deployer plan COMMAND ARGS...`: compile a command and print its plan without
//! connecting to any host. `run.rs` parses the line as the command itself, so every
//! flag means what it means for that command.

use crate::cli::{Command, GlobalArgs};
use crate::context::CliError;
use crate::exit::Exit;
use crate::output;
use crate::planning::{PlanRequest, build_plan};

pub(crate) fn run(global: &GlobalArgs, command: Command) -> Result<Exit, CliError> {
    let (_, plan) = build_plan(global, PlanRequest::from_command(command)?)?;
    if global.json {
        output::stdout(&format!("{}\n", serde_json::to_string_pretty(&plan).unwrap_or_default()));
    } else {
        output::stdout(&plan.to_text());
    }
    Ok(Exit::Success)
}
