//! `deployer describe ENV`: what AWS says about an environment, read-only.

use crate::cli::{GlobalArgs, Target};
use crate::context::CliError;
use crate::exit::Exit;

#[cfg(feature = "aws")]
pub(crate) fn run(global: &GlobalArgs, target: &Target) -> Result<Exit, CliError> {
    use std::fmt::Write;

    let config = crate::context::load(global)?;
    let target = crate::context::resolve_target(&config, target)?;
    let group = config.autoscaling_groups.group(&target.deployment, &target.environment);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CliError::Runtime)?;
    let description = runtime
        .block_on(async {
            let aws = deployer_aws::Aws::connect(&config.aws).await?;
            aws.describe(&target.deployment, &target.environment, group).await
        })
        .map_err(|error| CliError::Cloud(error.to_string()))?;
    if global.json {
        crate::output::stdout(&format!("{}\n", serde_json::to_string_pretty(&description).unwrap_or_default()));
        return Ok(Exit::Success);
    }
    let mut text = String::new();
    let tags = format!("deployment={}, environment={}", target.deployment, target.environment);
    if description.instances.is_empty() {
        let _ = writeln!(text, "no instance is tagged {tags}");
    } else {
        let _ = writeln!(text, "instances tagged {tags}:");
        let rows: Vec<[String; 7]> = description
            .instances
            .iter()
            .map(|instance| {
                let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
                [
                    or_dash(&instance.role),
                    instance.id.clone(),
                    instance.state.clone(),
                    or_dash(&instance.private_ip_address),
                    or_dash(&instance.instance_type),
                    or_dash(&instance.image_id),
                    or_dash(&instance.launch_time),
                ]
            })
            .collect();
        let header = ["role", "instance", "state", "private ip", "type", "image", "launched"].map(str::to_owned);
        write_table(&mut text, &header, &rows);
    }
    match &description.group {
        None => {
            let _ = writeln!(text, "\nno auto scaling group (`auto_scaling_groups` names none for this environment)");
        }
        Some(group) => {
            let _ = writeln!(
                text,
                "\nauto scaling group {}: min {}, desired {}, max {}",
                group.name, group.min, group.desired, group.max
            );
            match (&group.launch_template, &group.launch_configuration) {
                (Some(template), _) => {
                    let _ = writeln!(text, "  launch template {template}");
                }
                (None, Some(configuration)) => {
                    let _ = writeln!(
                        text,
                        "  launch configuration {configuration} (deployer deploys with launch templates only: move the group to one)"
                    );
                }
                (None, None) => {}
            }
            let suspended = if group.suspended.is_empty() { "none".to_owned() } else { group.suspended.join(", ") };
            let _ = writeln!(text, "  suspended processes: {suspended}");
            for instance in &group.instances {
                let _ = writeln!(text, "  {}  {}  {}", instance.id, instance.lifecycle, instance.health);
            }
            for busy in &group.busy {
                let _ = writeln!(text, "  now: {busy}");
            }
            if let Some(mark) = &group.deploy {
                let retiring = if mark.retiring.is_empty() { "none".to_owned() } else { mark.retiring.join(", ") };
                let _ = writeln!(
                    text,
                    "  deploy {} has not finished: it restores {} on version {}; old instances still running: \
                     {retiring}\n  if it is not running any more, `deployer recover {}` finishes or undoes it",
                    mark.deploy_id, mark.restore, mark.version, target.environment
                );
            }
        }
    }
    crate::output::stdout(&text);
    Ok(Exit::Success)
}

#[cfg(feature = "aws")]
fn write_table<const N: usize>(text: &mut String, header: &[String; N], rows: &[[String; N]]) {
    use std::fmt::Write;
    let widths: Vec<usize> = (0..N)
        .map(|column| rows.iter().map(|row| row[column].len()).chain([header[column].len()]).max().unwrap_or(0))
        .collect();
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        let _ = writeln!(text, "  {}", cells.join("  ").trim_end());
    }
}

#[cfg(not(feature = "aws"))]
pub(crate) fn run(_global: &GlobalArgs, _target: &Target) -> Result<Exit, CliError> {
    Err(CliError::Cloud("this deployer was built without AWS support (the `aws` cargo feature)".to_owned()))
}
