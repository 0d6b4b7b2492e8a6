//! Turning global flags into a loaded configuration and a target environment.

use camino::Utf8PathBuf;
use deployer_config::{
    Config, LoadError, Selection, SelectionError, TargetHost, did_you_mean, find_config, load_config, select_hosts,
};

use crate::cli::{GlobalArgs, Target};
use crate::discovery::Discovery;

/// Errors the binary reports, all before any host is contacted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("unknown deployment `{name}`")]
    UnknownDeployment { name: String, help: String },
    /// A cloud API call of a read-only command failed.
    #[error("{0}")]
    Cloud(String),
    #[error("`{name}` is not an auto scaling process")]
    UnknownProcess { name: String, help: String },
    #[error("this file has several deployments ({names}); name one: `deployer <command> <deployment> {environment}`")]
    AmbiguousDeployment { names: String, environment: String },
    #[error("the current directory is not valid UTF-8")]
    NonUtf8Directory,
    #[error("cannot write `{path}`: {source}")]
    Write { path: Utf8PathBuf, source: std::io::Error },
    #[error("`{0}` does not compile to a plan")]
    NoPlan(&'static str),
    #[error("`--gateway`: {0}")]
    Gateway(String),
    #[error("{question} pass --yes to confirm (there is no terminal to ask on)")]
    NoTerminal { question: String },
    #[error("not confirmed; nothing was done")]
    NotConfirmed,
    #[error("`{path}`: {source}")]
    Secrets { path: Utf8PathBuf, source: deployer_exec::SecretsError },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    ControlDirectory(#[from] deployer_ssh::ControlDirError),
    #[error("cannot read `{path}`: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error(transparent)]
    Plan(#[from] deployer_plan::PlanError),
    #[error(transparent)]
    Revision(#[from] crate::revision::RevisionError),
    #[error(transparent)]
    Push(#[from] crate::push::PushError),
    #[error("{0}")]
    Limits(String),
    #[error("{0}")]
    Notify(String),
    #[error("resume: {refusal}")]
    Resume { refusal: deployer_plan::resume::Refusal, target: String },
    #[error(
        "`plan resume` cannot show the plan without reading the hosts: `deployer resume` reads them, then shows what it will do"
    )]
    ResumeNeedsHosts,
}

/// What kind of error it is, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The configuration, a file it names, or the command line is wrong; or the
    /// person said no. Nothing was contacted. Exit 2.
    Input,
    /// This machine could not run the command (no runtime, no private directory
    /// for ssh sockets). Exit 1.
    Failure,
}

impl CliError {
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Self::Runtime(_) | Self::ControlDirectory(_) | Self::Cloud(_) | Self::Resume { .. } | Self::Limits(_) => {
                ErrorKind::Failure
            }
            _ => ErrorKind::Input,
        }
    }

    pub(crate) fn help(&self) -> Option<String> {
        match self {
            Self::Selection(error) => error.help(),
            Self::UnknownDeployment { help, .. }
            | Self::UnknownProcess { help, .. }
            | Self::Plan(deployer_plan::PlanError::UnknownTask { help, .. }) => Some(help.clone()),
            Self::Resume { refusal: deployer_plan::resume::Refusal::Locked { id, .. }, target } => Some(format!(
                "if that run is gone, release its lock with `deployer lock release {target} --id {id}`, then resume again"
            )),
            Self::Resume { refusal: deployer_plan::resume::Refusal::Ambiguous { releases }, target } => {
                Some(format!("for example `deployer resume {target} {}`", releases.last().map_or("", String::as_str)))
            }
            Self::Load(LoadError::NotFound { .. }) => {
                Some("create one from `fabulaws-config.yml.example`, or pass `--config FILE`".to_owned())
            }
            _ => None,
        }
    }
}

/// The configuration file to use: `--config`, else the nearest `fabulaws-config.yml`.
pub(crate) fn config_path(global: &GlobalArgs) -> Result<Utf8PathBuf, CliError> {
    let current = std::env::current_dir().map_err(|_| CliError::NonUtf8Directory)?;
    let current = Utf8PathBuf::try_from(current).map_err(|_| CliError::NonUtf8Directory)?;
    match &global.config {
        Some(path) => Ok(path.clone()),
        None => Ok(find_config(&current)?),
    }
}

pub(crate) fn load(global: &GlobalArgs) -> Result<Config, CliError> {
    let path = config_path(global)?;
    Ok(load_config(&path, &global.set)?)
}

/// A command's `[PROJECT] ENVIRONMENT`, checked against the configuration.
#[derive(Debug, Clone)]
#[allow(dead_code)] // `deployment` selects the branch once deploys exist.
pub(crate) struct ResolvedTarget {
    pub deployment: String,
    pub environment: String,
}

pub(crate) fn resolve_target(config: &Config, target: &Target) -> Result<ResolvedTarget, CliError> {
    let (deployment, environment) = match target.target.as_slice() {
        [deployment, environment] => {
            if !config.deployments.contains(deployment) {
                let help = did_you_mean(deployment, config.deployments.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("deployments are: {}", config.deployments.join(", ")));
                return Err(CliError::UnknownDeployment { name: deployment.clone(), help });
            }
            (deployment.clone(), environment.clone())
        }
        [environment] => {
            let deployment = match (&config.default_deployment, config.deployments.as_slice()) {
                (Some(default), _) => default.clone(),
                (None, [only]) => only.clone(),
                (None, _) => {
                    return Err(CliError::AmbiguousDeployment {
                        names: config.deployments.join(", "),
                        environment: environment.clone(),
                    });
                }
            };
            (deployment, environment.clone())
        }
        _ => unreachable!("clap allows one or two values"),
    };
    config.environment(&environment)?;
    Ok(ResolvedTarget { deployment, environment })
}

/// `--gateway`, validated like any host string. `plan` checks it too, so a plan
/// is refused exactly when the real command would be.
pub(crate) fn gateway_flag(global: &GlobalArgs) -> Result<Option<deployer_config::HostString>, CliError> {
    global
        .gateway
        .as_ref()
        .map(|flag| flag.parse::<deployer_config::HostString>().map_err(|error| CliError::Gateway(error.to_string())))
        .transpose()
}

pub(crate) fn selection(global: &GlobalArgs) -> Selection {
    Selection {
        hosts: global.hosts.clone(),
        roles: global.roles.clone(),
        exclude: global.exclude_hosts.clone(),
        dedupe: !global.no_dedupe,
        user: global.user.clone(),
        launch_missing: false,
    }
}

/// The hosts of `deployment`'s `environment` for the global `-H/-R/-x/-u` flags;
/// runs role host commands, or asks EC2's tags, for the roles that are needed.
pub(crate) fn hosts(
    config: &Config,
    target: &ResolvedTarget,
    global: &GlobalArgs,
) -> Result<Vec<TargetHost>, CliError> {
    hosts_launching(config, target, global, false)
}

/// [`hosts`], and with `launch_missing` a slot for each server `create_environment`
/// is to launch.
pub(crate) fn hosts_launching(
    config: &Config,
    target: &ResolvedTarget,
    global: &GlobalArgs,
    launch_missing: bool,
) -> Result<Vec<TargetHost>, CliError> {
    let mut discovery = Discovery::new(config, &target.deployment);
    let selection = Selection { launch_missing, ..selection(global) };
    Ok(select_hosts(config, &target.environment, &selection, &mut discovery)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_of_this_machine_are_failures_and_the_rest_bad_input() {
        assert_eq!(CliError::Runtime(std::io::Error::other("no threads")).kind(), ErrorKind::Failure);
        assert_eq!(CliError::NotConfirmed.kind(), ErrorKind::Input);
        assert_eq!(CliError::Gateway("bad".to_owned()).kind(), ErrorKind::Input);
        assert_eq!(CliError::NotConfirmed.to_string(), "not confirmed; nothing was done");
    }
}
