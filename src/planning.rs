//! From a parsed command to a [`Plan`]: load the configuration, select the hosts,
//! pin the revision, read the template sources, compile. Shared by `deployer plan`
//! and by every command that runs a plan.

use camino::Utf8Path;
use deployer_config::Config;
use deployer_plan::{CommandSpec, Plan, PlanInput, ScalingProcess, Sources, compile};

use crate::cli::{Command, GlobalArgs, LockAction, Target};
use crate::context::{self, CliError};
use crate::{invocation, revision};

/// A command that compiles to a plan, with what it needs besides the configuration.
#[derive(Clone)]
pub(crate) struct PlanRequest {
    pub target: Target,
    pub spec: CommandSpec,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// The stamp of the release a resume continues (the run's own time otherwise).
    pub release_stamp: Option<String>,
}

impl PlanRequest {
    pub(crate) fn from_command(command: Command) -> Result<Self, CliError> {
        let plain = |target: Target, spec| Self { target, spec, branch: None, commit: None, release_stamp: None };
        Ok(match command {
            Command::CreateEnvironment(target) => plain(target, CommandSpec::CreateEnvironment),
            Command::Recover(target) => plain(target, CommandSpec::Recover),
            Command::CreateImage(args) => Self {
                target: args.target,
                spec: CommandSpec::CreateImage,
                branch: args.branch,
                commit: args.commit,
                release_stamp: None,
            },
            Command::DeployFull(args) => Self {
                target: args.target,
                spec: CommandSpec::DeployFull,
                branch: args.branch,
                commit: args.commit,
                release_stamp: None,
            },
            Command::DeploySerial(args) => Self {
                target: args.deploy.target,
                spec: CommandSpec::DeploySerial {
                    batch_size: args.batch_size,
                    waves: (!args.waves.is_empty()).then_some(args.waves),
                },
                branch: args.deploy.branch,
                commit: args.deploy.commit,
                release_stamp: None,
            },
            Command::Rollback(args) => plain(args.target, CommandSpec::Rollback { to: args.to }),
            Command::BeginUpgrade(args) => {
                plain(args.target, CommandSpec::BeginUpgrade { stay_healthy: !args.no_stay_healthy })
            }
            Command::EndUpgrade(target) => plain(target, CommandSpec::EndUpgrade),
            Command::UpdateServerPasswords(target) => plain(target, CommandSpec::UpdateServerPasswords),
            Command::Run { target, command, .. } => plain(target, CommandSpec::Run { command: command.join(" ") }),
            Command::Check { .. } => return Err(CliError::NoPlan("check")),
            Command::Hosts(_) => return Err(CliError::NoPlan("hosts")),
            Command::Describe(_) => return Err(CliError::NoPlan("describe")),
            Command::Plan { .. } => return Err(CliError::NoPlan("plan")),
            Command::Disconnect => return Err(CliError::NoPlan("disconnect")),
            Command::Status(target) => plain(target, CommandSpec::Status),
            Command::Lock { action: LockAction::Status(target) } => plain(target, CommandSpec::Status),
            Command::Lock { action: LockAction::Release { target, id } } => {
                plain(target, CommandSpec::LockRelease { id })
            }
            Command::Task(args) => {
                let (name, target) = args.words.split_last().expect("clap requires two words at least");
                plain(Target { target: target.to_vec() }, CommandSpec::Task { name: name.clone() })
            }
            // The words are split into target and processes once the deployments are known.
            Command::SuspendAutoscalingProcesses(args) => {
                plain(Target { target: args.words }, CommandSpec::SuspendProcesses { processes: Vec::new() })
            }
            Command::ResumeAutoscalingProcesses(args) => {
                plain(Target { target: args.words }, CommandSpec::ResumeProcesses { processes: Vec::new() })
            }
            Command::Completions { .. } => return Err(CliError::NoPlan("completions")),
            Command::Man { .. } => return Err(CliError::NoPlan("man")),
            Command::Resume(_) => return Err(CliError::ResumeNeedsHosts),
        })
    }
}

/// `[PROJECT] ENVIRONMENT [PROCESS]...`: the first word is the deployment when it
/// names one, then comes the environment, then process names.
fn split_processes(config: &Config, words: &[String]) -> Result<(Target, Vec<ScalingProcess>), CliError> {
    let target_length = if words.len() >= 2 && config.deployments.contains(&words[0]) { 2 } else { 1 };
    let (target, rest) = words.split_at(target_length.min(words.len()));
    let mut processes = Vec::new();
    for word in rest {
        let process = ScalingProcess::parse(word).ok_or_else(|| {
            let names = ScalingProcess::ALL.iter().map(|process| process.name());
            CliError::UnknownProcess {
                name: word.clone(),
                help: deployer_config::did_you_mean(word, names.clone())
                    .unwrap_or_else(|| format!("the processes are: {}", names.collect::<Vec<_>>().join(", "))),
            }
        })?;
        if !processes.contains(&process) {
            processes.push(process);
        }
    }
    Ok((Target { target: target.to_vec() }, processes))
}

pub(crate) fn build_plan(global: &GlobalArgs, request: PlanRequest) -> Result<(Config, Plan), CliError> {
    let config = context::load(global)?;
    context::gateway_flag(global)?;
    let mut request = request;
    if let CommandSpec::SuspendProcesses { processes } | CommandSpec::ResumeProcesses { processes } = &mut request.spec
    {
        let (target, named) = split_processes(&config, &request.target.target)?;
        *processes = named;
        request.target = target;
    }
    let target = context::resolve_target(&config, &request.target)?;
    // Cloud calls only: no host is selected, so none is looked up.
    // `create_environment` launches the servers roles found by tags are missing.
    let launch_missing = request.spec == CommandSpec::CreateEnvironment && config.aws.discover_by_tags;
    // `deploy_full` and `deploy_serial` replace the instances of the environment's
    // group (FabulAWS's deploys with autoscaling) when its hosts are found by tags.
    if matches!(request.spec, CommandSpec::Resume { .. }) {
        refuse_resume_on_a_group(&config, &target.deployment, &target.environment)?;
    }
    let group_deploy = matches!(
        request.spec,
        CommandSpec::DeployFull | CommandSpec::DeploySerial { .. } | CommandSpec::Rollback { .. }
    ) && config.aws.discover_by_tags
        && config.autoscaling_groups.group(&target.deployment, &target.environment).is_some();
    let group = if request.spec.needs_group() || group_deploy {
        crate::cloud::group_snapshot(&config, &target.deployment, &target.environment)?
    } else {
        None
    };
    let role = &config.aws.autoscaling_role;
    let hosts = if request.spec.runs_on_no_host() {
        Vec::new()
    } else if request.spec == CommandSpec::CreateImage {
        // The image is built on one server of its own, launched by the run.
        vec![deployer_config::builder_host(&config, &target.environment, role)?]
    } else if let (true, Some(group)) = (group_deploy, &group) {
        // The servers found by tags (the group's old instances among them), the
        // builder, and one host for each instance the group will launch.
        let mut hosts = context::hosts(&config, &target, global)?;
        if !matches!(request.spec, CommandSpec::Rollback { .. }) {
            // A rollback's image exists: nothing is built.
            hosts.push(deployer_config::builder_host(&config, &target.environment, role)?);
        }
        hosts.extend(deployer_config::group_slots(&config, &target.environment, role, group.desired)?);
        hosts
    } else {
        context::hosts_launching(&config, &target, global, launch_missing)?
    };
    let directory = config.directory().to_owned();
    let revision = if request.spec.ships_a_release() {
        let environment = config.environment(&target.environment)?;
        let branch = request.branch.clone().unwrap_or_else(|| environment.branch_for(&target.deployment).to_owned());
        Some(revision::resolve(&config.repo, &branch, request.commit.as_deref(), &directory)?)
    } else {
        None
    };
    let sources = load_sources(&config, &directory)?;
    // What ships since this machine last deployed here, from the local checkout.
    let shipping = revision.as_ref().and_then(|revision| {
        let last = crate::audit::last_shipped(&directory, &target.deployment, &target.environment)?;
        crate::changes::between(&directory, last.commit.as_deref()?, last.release.as_deref(), &revision.commit)
    });
    let mut invocation = invocation::current();
    if let Some(stamp) = request.release_stamp {
        invocation.stamp = stamp;
    }
    let plan = compile(&PlanInput {
        config: &config,
        deployment: &target.deployment,
        environment: &target.environment,
        command: request.spec,
        hosts: &hosts,
        revision,
        invocation,
        sources: &sources,
        shipping,
        group,
    })?;
    Ok((config, plan))
}

/// Every template and maintenance page the configuration names.
fn load_sources(config: &Config, directory: &Utf8Path) -> Result<Sources, CliError> {
    let mut sources = Sources::new();
    for (_, path) in config.local_files() {
        let full = directory.join(&path);
        let text = std::fs::read_to_string(&full).map_err(|source| CliError::Read { path: full, source })?;
        sources.insert(path, text);
    }
    Ok(sources)
}

/// `resume` continues deploys over ssh: on an environment whose web servers are an
/// Auto Scaling group it would deploy onto the group's instances in place, around
/// the image, so a group deploy starts again instead.
pub(crate) fn refuse_resume_on_a_group(config: &Config, deployment: &str, environment: &str) -> Result<(), CliError> {
    if config.aws.discover_by_tags && config.autoscaling_groups.group(deployment, environment).is_some() {
        return Err(CliError::Cloud(
            "resume continues deploys over ssh; this environment's web servers are an auto scaling group: run \
             `deploy_full` (or `deploy_serial`) again"
                .to_owned(),
        ));
    }
    Ok(())
}
