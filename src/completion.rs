//! Shell completion that knows the project: environment, deployment and role
//! names come from the `fabulaws-config.yml` the command would read.
//!
//! The shell asks deployer itself (`COMPLETE=bash deployer -- deployer deploy_full st`),
//! through clap's completion engine; `deployer completions SHELL` prints the small
//! script that makes a shell do so. A configuration that cannot be found or read
//! completes nothing rather than printing an error into the user's prompt.

use std::ffi::{OsStr, OsString};

use camino::Utf8PathBuf;
use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{CompleteEnv, Shells};
use deployer_config::{Config, find_config, load_config};

use crate::cli::Cli;

/// The environment variable that turns a run into a completion request.
const VARIABLE: &str = "COMPLETE";

/// Answers a completion request and returns true, or returns false for a normal run.
pub(crate) fn answer(args: &[OsString]) -> bool {
    let directory = std::env::current_dir().ok();
    CompleteEnv::with_factory(Cli::command)
        .var(VARIABLE)
        .try_complete(args.iter().cloned(), directory.as_deref())
        .unwrap_or_else(|error| error.exit())
}

/// The script a shell sources to complete `deployer` through [`answer`].
pub(crate) fn registration(shell: &str) -> Option<String> {
    let shells = Shells::builtins();
    let completer = shells.completer(shell)?;
    let mut script = Vec::new();
    completer.write_registration(VARIABLE, "deployer", "deployer", "deployer", &mut script).ok()?;
    String::from_utf8(script).ok()
}

/// `[PROJECT] ENVIRONMENT`: the environments, and the deployments that may precede them.
pub(crate) fn targets(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(config) = config() else { return Vec::new() };
    candidates(current, target_names(&config))
}

/// `[PROJECT] ENVIRONMENT TASK`: targets, and the task names.
pub(crate) fn targets_then_tasks(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(config) = config() else { return Vec::new() };
    let tasks = config.tasks.values().map(|task| (task.name.clone(), "task"));
    candidates(current, target_names(&config).chain(tasks))
}

fn target_names(config: &Config) -> impl Iterator<Item = (String, &'static str)> + '_ {
    let environments = config.environments.keys().map(|name| (name.clone(), "environment"));
    environments.chain(config.deployments.iter().map(|name| (name.clone(), "deployment")))
}

/// An environment alone.
pub(crate) fn environments(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(config) = config() else { return Vec::new() };
    candidates(current, config.environments.keys().map(|name| (name.clone(), "environment")))
}

/// `-R web,wor`: role names (clap completes the part after the last comma).
pub(crate) fn roles(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(config) = config() else { return Vec::new() };
    candidates(current, config.roles.keys().map(|role| (role.clone(), "role")))
}

fn candidates(current: &OsStr, names: impl Iterator<Item = (String, &'static str)>) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    names
        .filter(|(name, _)| name.starts_with(current.as_ref()))
        .map(|(name, kind)| CompletionCandidate::new(name).help(Some(kind.into())))
        .collect()
}

/// The configuration a command run here would read (`DEPLOYER_CONFIG`, else the
/// nearest `fabulaws-config.yml`); `-c` on the line being completed is not seen.
fn config() -> Option<Config> {
    let path = match std::env::var_os("DEPLOYER_CONFIG") {
        Some(path) => Utf8PathBuf::from_path_buf(path.into()).ok()?,
        None => {
            let here = Utf8PathBuf::from_path_buf(std::env::current_dir().ok()?).ok()?;
            find_config(&here).ok()?
        }
    };
    load_config(&path, &[]).ok()
}
