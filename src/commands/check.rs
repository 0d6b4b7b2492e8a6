//! `deployer check [ENV]`: validate the file and summarise it. Exits 0 or 1.

use std::fmt::Write;

use deployer_config::{Config, LoadError};
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::context::{self, CliError};
use crate::diagnostics;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(global: &GlobalArgs, environment: Option<&str>) -> Result<Exit, CliError> {
    let config = match context::load(global) {
        Ok(config) => config,
        Err(CliError::Load(LoadError::Invalid(errors))) => {
            if global.json {
                let value = json!({ "file": errors.file, "valid": false, "errors": errors.errors });
                output::stdout(&format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default()));
            }
            output::stderr(&diagnostics::render_config_errors(&errors));
            return Ok(Exit::Failed);
        }
        Err(other) => {
            output::stderr(&diagnostics::render(&other));
            return Ok(Exit::Failed);
        }
    };
    if let Some(name) = environment
        && let Err(error) = config.environment(name)
    {
        output::stderr(&diagnostics::render(&CliError::from(error)));
        return Ok(Exit::Failed);
    }
    let shown: Vec<&deployer_config::Environment> =
        config.environments.values().filter(|env| environment.is_none_or(|name| env.name == name)).collect();
    if global.json {
        output::stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&summary_json(&config, &shown)).unwrap_or_default()
        ));
    } else {
        output::stdout(&summary_text(&config, &shown));
    }
    for warning in &config.warnings {
        output::stderr(&format!("warning: {} (at `{}`)\n", warning.message, warning.key_path));
    }
    for template in readable_secret_templates(&config) {
        output::stderr(&format!(
            "warning: template `{}` uses a secret but its mode {:04o} lets the group or other users read `{}`; \
             leave `mode` out (0600) unless they must (at `{}`)\n",
            template.src,
            template.mode.unwrap_or_default(),
            template.dest,
            template.key_path
        ));
    }
    Ok(Exit::Success)
}

/// Each role's hosts as the file gives them: a count, "from a command", or with
/// `aws.discover: tags` "by EC2 tags" for every role the file gives none.
fn role_counts(config: &Config, environment: &deployer_config::Environment) -> Vec<(String, String)> {
    let by_tags = config.aws.discover_by_tags;
    let roles: Vec<&String> = if by_tags { config.roles.keys().collect() } else { environment.roles.keys().collect() };
    roles
        .into_iter()
        .map(|role| {
            let entry = environment.roles.get(role);
            let command = entry.and_then(|entry| entry.command.as_ref());
            let listed = entry.map_or(0, |entry| entry.hosts.len());
            let count = match (command, listed) {
                (Some(_), 0) => "from a command".to_owned(),
                (Some(_), listed) => format!("{listed} + from a command"),
                (None, 0) if by_tags => "by EC2 tags".to_owned(),
                (None, listed) => listed.to_string(),
            };
            (role.clone(), count)
        })
        .collect()
}

/// `deploy_serial in waves 1, 30%, 100% (bake 300s, gate `./smoke`, ...)`.
fn describe_rollout(rollout: &deployer_config::Rollout) -> String {
    let mut waves: Vec<String> = Vec::new();
    if !rollout.canary.is_empty() {
        waves.push(format!("canary {}", rollout.canary.join(" ")));
    }
    waves.extend(rollout.groups.iter().map(|(name, hosts)| format!("{name} ({} hosts)", hosts.len())));
    waves.extend(rollout.waves.iter().map(|wave| match wave {
        deployer_config::WaveSize::Hosts(count) => count.to_string(),
        deployer_config::WaveSize::Percent(percent) => format!("{percent}%"),
    }));
    let mut details = vec![format!("bake {}s", rollout.bake)];
    if let Some(gate) = &rollout.gate {
        details.push(format!("gate `{gate}`"));
    }
    if rollout.drain.is_some() || rollout.undrain.is_some() {
        details.push("drain/undrain".to_owned());
    }
    if let Some(minimum) = rollout.min_healthy {
        details.push(match minimum {
            deployer_config::WaveSize::Hosts(count) => format!("at least {count} hosts in service"),
            deployer_config::WaveSize::Percent(percent) => format!("at least {percent}% in service"),
        });
    }
    format!("deploy_serial in waves {} ({})", waves.join(", "), details.join(", "))
}

fn summary_text(config: &Config, environments: &[&deployer_config::Environment]) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}: valid", config.file);
    let _ = writeln!(text, "project `{}`, repository {}", config.project, config.repo);
    let _ = writeln!(text);
    let name_width = environments.iter().map(|env| env.name.len()).max().unwrap_or(0).max("environment".len());
    let branch_width = environments.iter().map(|env| env.branch.len()).max().unwrap_or(0).max("branch".len());
    let _ = writeln!(text, "{:name_width$}  {:branch_width$}  roles (hosts)", "environment", "branch");
    for environment in environments {
        let roles: Vec<String> =
            role_counts(config, environment).into_iter().map(|(role, count)| format!("{role} {count}")).collect();
        let roles = if roles.is_empty() { "(no hosts in the file)".to_owned() } else { roles.join(", ") };
        let production = if environment.production { "  [production: asks for confirmation]" } else { "" };
        let _ = writeln!(
            text,
            "{:name_width$}  {:branch_width$}  {roles}{production}",
            environment.name, environment.branch
        );
    }
    if environments.iter().any(|environment| role_counts(config, environment).is_empty()) {
        let _ = writeln!(
            text,
            "\nwhere no hosts are in the file, give them when running (`-H host1,host2`), add a role \
             entry with hosts or a `command` that prints them under `environments.<name>.roles`, or \
             find them by FabulAWS's EC2 tags with `aws: {{discover: tags}}`"
        );
    }
    if let Some(endpoint) = &config.aws.endpoint_url {
        let _ = writeln!(text, "\nAWS calls go to {endpoint} (`aws.endpoint_url`), not to AWS");
    }
    let mut protections = Vec::new();
    for environment in environments {
        let mut safety = Vec::new();
        if let Some(rollout) = config.rollout_for(environment) {
            safety.push(describe_rollout(rollout));
        }
        if let Some(seconds) = environment.auto_revert_after.or(config.auto_revert_after) {
            safety.push(format!("hosts revert a deploy not confirmed within {seconds}s"));
        }
        if !safety.is_empty() {
            protections.push(format!("{}: {}", environment.name, safety.join("; ")));
        }
    }
    if !protections.is_empty() {
        let _ = writeln!(text, "\n{}", protections.join("\n"));
    }
    if !config.tasks.is_empty() {
        let tasks: Vec<String> = config
            .tasks
            .values()
            .map(|task| {
                let on = if task.roles.is_empty() { "every host".to_owned() } else { task.roles.join(", ") };
                let how = if task.once {
                    ", once"
                } else if task.serial {
                    ", one host at a time"
                } else {
                    ""
                };
                format!("{} ({on}{how})", task.name)
            })
            .collect();
        let _ = writeln!(text, "\ntasks (`deployer task ENV NAME`): {}", tasks.join(", "));
    }
    if !config.hooks.is_empty() {
        let hooks: Vec<String> = config
            .hooks
            .iter()
            .map(|hook| {
                let (here, there) = hook.steps.iter().fold((0, 0), |(here, there), step| match step {
                    deployer_config::HookStep::Local { .. } => (here + 1, there),
                    deployer_config::HookStep::Run { .. } => (here, there + 1),
                });
                let mut parts = Vec::new();
                if there > 0 {
                    parts.push(format!("{there} on hosts"));
                }
                if here > 0 {
                    parts.push(format!("{here} here"));
                }
                format!("{} ({})", hook.point.name(), parts.join(", "))
            })
            .collect();
        let _ = writeln!(text, "hooks: {}", hooks.join(", "));
    }
    let notify = &config.notify;
    let targets: Vec<&str> = [
        notify.webhook.as_ref().map(|_| "a webhook"),
        notify.slack_secret.as_ref().map(|_| "Slack"),
        notify.github.as_ref().map(|_| "GitHub Deployments"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !targets.is_empty() {
        let _ = writeln!(text, "runs are announced to: {}", targets.join(", "));
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "keys used: {}", config.keys.used.join(", "));
    if !config.keys.template_variables.is_empty() {
        let _ = writeln!(text, "passed to templates as variables: {}", config.keys.template_variables.join(", "));
    }
    if !config.keys.ignored.is_empty() {
        let _ = writeln!(text, "ignored FabulAWS keys:");
        for (key, reason) in &config.keys.ignored {
            let _ = writeln!(text, "  {key}: {reason}");
        }
    }
    text
}

fn summary_json(config: &Config, environments: &[&deployer_config::Environment]) -> serde_json::Value {
    let environments: Vec<serde_json::Value> = environments
        .iter()
        .map(|environment| {
            let roles: serde_json::Map<String, serde_json::Value> = environment
                .roles
                .iter()
                .map(|(role, hosts)| {
                    (role.clone(), json!({ "hosts": hosts.hosts.len(), "command": hosts.command.is_some() }))
                })
                .collect();
            json!({
                "name": environment.name,
                "branch": environment.branch,
                "branches": environment.branches,
                "deploy_root": environment.deploy_root,
                "production": environment.production,
                "roles": roles,
            })
        })
        .collect();
    let ignored: Vec<serde_json::Value> =
        config.keys.ignored.iter().map(|(key, reason)| json!({ "key": key, "reason": reason })).collect();
    json!({
        "file": config.file,
        "valid": true,
        "project": config.project,
        "repo": config.repo,
        "deployments": config.deployments,
        "environments": environments,
        "keys": {
            "used": config.keys.used,
            "template_variables": config.keys.template_variables,
            "ignored": ignored,
        },
        "warnings": config.warnings,
    })
}

/// Templates whose source uses `secrets.` and whose explicit mode lets the group
/// or other users read the file.
fn readable_secret_templates(config: &deployer_config::Config) -> Vec<&deployer_config::TemplateSpec> {
    let directory = config.directory();
    config
        .templates
        .iter()
        .filter(|template| template.mode.is_some_and(|mode| mode & 0o044 != 0))
        .filter(|template| {
            std::fs::read_to_string(directory.join(&template.src)).is_ok_and(|source| source.contains("secrets."))
        })
        .collect()
}
