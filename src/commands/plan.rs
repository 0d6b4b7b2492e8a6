//! `deployer plan COMMAND ARGS...`: compile a command and print its plan without
//! connecting to any host.

use std::iter::once;

use clap::Parser;

use crate::cli::{Cli, GlobalArgs};
use crate::context::CliError;
use crate::exit::Exit;
use crate::output;
use crate::planning::{PlanRequest, build_plan};

pub(crate) fn run(outer: &GlobalArgs, command: &[String]) -> Result<Exit, CliError> {
    let inner = Cli::try_parse_from(once("deployer".to_owned()).chain(command.iter().cloned()))
        .map_err(|error| CliError::Arguments(error.render().to_string()))?;
    let global = merge(outer, inner.global);
    let (_, plan) = build_plan(&global, PlanRequest::from_command(inner.command)?)?;
    if global.json {
        output::stdout(&format!("{}\n", serde_json::to_string_pretty(&plan).unwrap_or_default()));
    } else {
        output::stdout(&plan.to_text());
    }
    Ok(Exit::Success)
}

/// Flags may come before `plan` or after the planned command; both count.
fn merge(outer: &GlobalArgs, inner: GlobalArgs) -> GlobalArgs {
    let join = |a: &[String], b: Vec<String>| a.iter().cloned().chain(b).collect::<Vec<_>>();
    GlobalArgs {
        config: inner.config.or_else(|| outer.config.clone()),
        user: inner.user.or_else(|| outer.user.clone()),
        hosts: join(&outer.hosts, inner.hosts),
        roles: join(&outer.roles, inner.roles),
        exclude_hosts: join(&outer.exclude_hosts, inner.exclude_hosts),
        no_dedupe: outer.no_dedupe || inner.no_dedupe,
        set: outer.set.iter().cloned().chain(inner.set).collect(),
        yes: outer.yes || inner.yes,
        json: outer.json || inner.json,
        pool_size: inner.pool_size.or(outer.pool_size),
        warn_only: outer.warn_only || inner.warn_only,
        skip_bad_hosts: outer.skip_bad_hosts || inner.skip_bad_hosts,
        gateway: inner.gateway.or_else(|| outer.gateway.clone()),
        on_failure: if inner.on_failure == crate::cli::OnFailure::Halt { inner.on_failure } else { outer.on_failure },
    }
}
