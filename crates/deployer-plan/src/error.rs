//! Why a command could not be compiled into a plan.

use deployer_config::SelectionError;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("no hosts selected in environment `{environment}`")]
    NoHosts { environment: String },
    #[error("unknown task `{name}`")]
    UnknownTask { name: String, help: String },
    #[error("no targeted host plays a role task `{name}` runs on ({roles})")]
    NoHostForTask { name: String, roles: String },
    #[error(
        "`{command}` needs the auto scaling group of deployment `{deployment}` in environment `{environment}`: add it to `auto_scaling_groups`"
    )]
    NoAutoScalingGroup { deployment: String, environment: String, command: &'static str },
    #[error("`{command}` needs a revision (the commit to deploy)")]
    NoRevision { command: String },
    #[error("invalid commit id `{commit}`: expected 40 or 64 hexadecimal characters")]
    InvalidCommit { commit: String },
    #[error("invalid release id `{id}`: expected `YYYYmmddTHHMMSSZ-<commit>`")]
    InvalidReleaseId { id: String },
    #[error("no targeted host plays role `{role}`, which `{purpose}` runs on")]
    NoHostForRole { role: String, purpose: &'static str },
    #[error("`static_html.{key}` is not set; `{command}` needs it")]
    NoMaintenancePage { key: &'static str, command: &'static str },
    #[error("template `{template}` line {line}: {message}")]
    Template { template: String, line: usize, message: String },
    /// Every undefined name of every template, found before any is rendered.
    #[error("{}", describe_templates(problems))]
    Templates { problems: Vec<TemplateProblem> },
    #[error("`{path}` was not loaded (the caller must pass every template and page)")]
    MissingSource { path: String },
    #[error("{0}")]
    Unsafe(String),
}

/// One problem in one template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub template: String,
    pub line: usize,
    pub message: String,
}

fn describe_templates(problems: &[TemplateProblem]) -> String {
    let mut text = match problems.len() {
        1 => "1 problem in the templates:".to_owned(),
        count => format!("{count} problems in the templates:"),
    };
    for problem in problems {
        text.push_str(&format!("\n  template `{}` line {}: {}", problem.template, problem.line, problem.message));
    }
    text
}
