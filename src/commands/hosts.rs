//! `deployer hosts ENV`: the resolved hosts in execution order.

use std::fmt::Write;

use crate::cli::{GlobalArgs, Target};
use crate::context::{self, CliError};
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(global: &GlobalArgs, target: &Target) -> Result<Exit, CliError> {
    let config = context::load(global)?;
    let target = context::resolve_target(&config, target)?;
    let hosts = context::hosts(&config, &target, global)?;
    if global.json {
        output::stdout(&format!("{}\n", serde_json::to_string_pretty(&hosts).unwrap_or_default()));
        return Ok(Exit::Success);
    }
    if hosts.is_empty() {
        output::stderr(&format!("no hosts selected in environment `{}`\n", target.environment));
        return Ok(Exit::Success);
    }
    let width = hosts.iter().map(|host| host.to_string().len()).max().unwrap_or(0);
    let mut text = String::new();
    // The bastion each host is reached through: `--gateway`, else its own.
    let forced = context::gateway_flag(global)?;
    for host in &hosts {
        let roles = if host.roles.is_empty() { "-".to_owned() } else { host.roles.join(",") };
        let gateway = forced.as_ref().or(host.gateway.as_ref());
        let via = gateway.map(|gateway| format!("  via {gateway}")).unwrap_or_default();
        let _ = writeln!(text, "{:width$}  {roles}{via}", host.to_string());
    }
    output::stdout(&text);
    Ok(Exit::Success)
}
