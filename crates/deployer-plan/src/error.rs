//! Why a command could not be compiled into a plan.

use deployer_config::SelectionError;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("no hosts selected in environment `{environment}`")]
    NoHosts { environment: String },
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
    #[error("`{path}` was not loaded (the caller must pass every template and page)")]
    MissingSource { path: String },
    #[error("{0}")]
    Unsafe(String),
}
