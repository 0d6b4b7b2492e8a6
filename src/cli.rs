//! The command line, defined once with clap; `--help`, completions and the man page
//! are all generated from it.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;
use deployer_config::Override;

use crate::completion;

/// Deploy git-based web applications to fleets of Linux servers over SSH.
///
/// Reads `fabulaws-config.yml` (in this directory or the nearest parent), compiles
/// the command into a plan, and runs it on every host in parallel through OpenSSH.
#[derive(Debug, Parser)]
#[command(name = "deployer", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The configuration file [default: fabulaws-config.yml here or in the nearest parent]
    #[arg(short = 'c', long, global = true, env = "DEPLOYER_CONFIG", value_name = "FILE")]
    pub config: Option<Utf8PathBuf>,

    /// Log in as this user, unless a host string names one (beats `deploy_user`)
    #[arg(short = 'u', long, global = true, value_name = "USER")]
    pub user: Option<String>,

    /// Run on these hosts instead of the configuration's (comma-separated host strings)
    #[arg(short = 'H', long = "hosts", global = true, value_delimiter = ',', value_name = "HOSTS")]
    pub hosts: Vec<String>,

    /// Run on the hosts of these roles instead of every role (comma-separated)
    #[arg(short = 'R', long = "roles", global = true, value_delimiter = ',', value_name = "ROLES",
          add = ArgValueCompleter::new(completion::roles))]
    pub roles: Vec<String>,

    /// Leave out these hosts (comma-separated host strings)
    #[arg(short = 'x', long = "exclude-hosts", global = true, value_delimiter = ',', value_name = "HOSTS")]
    pub exclude_hosts: Vec<String>,

    /// Keep hosts that appear more than once in the host list
    #[arg(long, global = true)]
    pub no_dedupe: bool,

    /// Override a configuration value, e.g. `--set environments.staging.branch=hotfix`
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<Override>,

    /// Answer yes to confirmations (production environments)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Print machine-readable JSON instead of text (a JSON-lines event stream for runs)
    #[arg(long, global = true)]
    pub json: bool,

    /// Hosts worked on at once [default: `execution.pool_size`]
    #[arg(short = 'z', long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub pool_size: Option<u32>,

    /// Keep going when a step fails (the exit code still reports the failure)
    #[arg(short = 'w', long, global = true)]
    pub warn_only: bool,

    /// Leave unreachable hosts out instead of failing
    #[arg(long, global = true)]
    pub skip_bad_hosts: bool,

    /// In a pipe, one line per step per host however many hosts (by default more
    /// than 20 hosts get one line per phase, with failures in full)
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,

    /// After a failure at or after the switch: `rollback` every switched host (default) or `halt` and leave them
    #[arg(long, global = true, value_enum, default_value_t = OnFailure::Rollback)]
    pub on_failure: OnFailure,

    /// Reach hosts through this jump host (`[user@]host[:port]`; beats `ssh.gateway`)
    #[arg(short = 'g', long, global = true, value_name = "HOST")]
    pub gateway: Option<String>,
}

/// What to do with switched hosts when a later step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnFailure {
    /// Switch every switched host back to its previous release
    Rollback,
    /// Leave hosts as they are; the exit code says the fleet is partial
    Halt,
}

#[derive(Debug, Subcommand)]
#[command(rename_all = "snake_case")]
pub(crate) enum Command {
    /// Validate the configuration and summarise environments, branches and roles
    Check {
        /// Check only this environment
        #[arg(add = ArgValueCompleter::new(completion::environments))]
        environment: Option<String>,
    },

    /// List the hosts a command would run on, in execution order
    Hosts(Target),

    /// Prepare new hosts (with `aws.discover: tags`, launching the servers roles are
    /// missing): directories, role setup commands, secrets, then a full deploy
    #[command(alias = "create-environment")]
    CreateEnvironment(Target),

    /// Build an image of the release for the Auto Scaling group: a builder server gets
    /// it, becomes an image, and the image a new version of the group's launch template
    #[command(aliases = ["create-image", "create_launch_config_for_deployment", "create-launch-config-for-deployment"])]
    CreateImage(DeployArgs),

    /// Deploy to every host at once, with the maintenance page up during migrations
    #[command(alias = "deploy-full")]
    DeployFull(DeployArgs),

    /// Deploy batch by batch without downtime (for backward-compatible changes)
    #[command(alias = "deploy-serial")]
    DeploySerial(SerialArgs),

    /// Switch every host back to the previous complete release
    Rollback(RollbackArgs),

    /// Continue a deploy that stopped before its switch: the same commit and release,
    /// building only on the hosts where it is not complete
    Resume(ResumeArgs),

    /// Put up the maintenance page on web hosts
    #[command(alias = "begin-upgrade")]
    BeginUpgrade(BeginUpgradeArgs),

    /// Take down the maintenance page on web hosts
    #[command(alias = "end-upgrade")]
    EndUpgrade(Target),

    /// Upload the environment's secrets to every host
    #[command(alias = "update-server-passwords")]
    UpdateServerPasswords(Target),

    /// Run a named task of `tasks:` on the hosts of its roles: `deployer task staging clear_cache`
    Task(TaskArgs),

    /// Show what AWS says about an environment: its tagged instances and its auto scaling group
    Describe(Target),

    /// Suspend the environment's Auto Scaling processes (every one, or those named)
    #[command(alias = "suspend-autoscaling-processes")]
    SuspendAutoscalingProcesses(ProcessArgs),

    /// Resume the environment's Auto Scaling processes (every one, or those named)
    #[command(alias = "resume-autoscaling-processes")]
    ResumeAutoscalingProcesses(ProcessArgs),

    /// Finish or undo a deploy to the environment's Auto Scaling group that did not
    /// finish (deployer was killed, the machine lost), from what it recorded in AWS
    Recover(Target),

    /// Show the plan a command would run, without connecting anywhere
    Plan {
        /// The command and its arguments, e.g. `deploy_full staging`
        #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },

    /// Show each host's live release, previous release, lock and drift
    Status(Target),

    /// Close the ssh connections `ssh.control_persist` keeps open between runs
    Disconnect,

    /// Run a command on the targeted hosts: `deployer run staging -- uptime`
    Run {
        #[command(flatten)]
        target: Target,
        /// Show each host's output together once it is done, instead of line by line as it comes
        #[arg(long)]
        grouped: bool,
        /// The command to run
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },

    /// Inspect or release an environment's deploy lock
    Lock {
        #[command(subcommand)]
        action: LockAction,
    },

    /// Print the script that makes a shell complete deployer's commands, flags, and
    /// the environments and roles of the configuration at hand:
    /// `source <(deployer completions bash)`
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },

    /// Print the man page, or write every page (`deployer.1` and one per command) into a directory
    #[command(hide = true)]
    Man {
        /// Where to write every page; without it, `deployer.1` goes to standard output
        out_dir: Option<Utf8PathBuf>,
    },
}

/// `[PROJECT] ENVIRONMENT`, as in FabulAWS's `deploy_full:myproject,staging`.
#[derive(Debug, Clone, Args)]
pub(crate) struct Target {
    /// The environment, optionally preceded by the deployment name (`myproject staging`)
    #[arg(value_name = "[PROJECT] ENVIRONMENT", num_args = 1..=2, required = true,
          add = ArgValueCompleter::new(completion::targets))]
    pub target: Vec<String>,
}

/// `[PROJECT] ENVIRONMENT TASK`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TaskArgs {
    /// The environment (optionally after the deployment), then the task's name
    #[arg(value_name = "[PROJECT] ENVIRONMENT TASK", num_args = 2..=3, required = true,
          add = ArgValueCompleter::new(completion::targets_then_tasks))]
    pub words: Vec<String>,
}

/// `[PROJECT] ENVIRONMENT [PROCESS]...`: the target, then Auto Scaling process
/// names (`Launch`, `AZRebalance`, ...; any case).
#[derive(Debug, Clone, Args)]
pub(crate) struct ProcessArgs {
    /// The environment (optionally after the deployment), then the processes; none means all nine
    #[arg(value_name = "[PROJECT] ENVIRONMENT [PROCESS]", num_args = 1.., required = true,
          add = ArgValueCompleter::new(completion::targets))]
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    pub target: Target,
    /// Deploy this branch instead of the environment's
    #[arg(long, conflicts_with = "commit")]
    pub branch: Option<String>,
    /// Deploy this commit (a full or abbreviated id)
    #[arg(long)]
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SerialArgs {
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// Hosts switched at once [default: `execution.batch_size`, else 1]
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Switch in these waves, cumulative counts or percentages (`1,30%,100%`),
    /// instead of those of `rollout:` (its bake and gate still apply)
    #[arg(long, value_delimiter = ',', conflicts_with = "batch_size", value_name = "WAVES")]
    pub waves: Vec<deployer_config::WaveSize>,
}

/// `[PROJECT] ENVIRONMENT [DEPLOY_ID]`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ResumeArgs {
    /// The environment (optionally after the deployment), then the deploy or release
    /// id to resume when `status` shows several
    #[arg(value_name = "[PROJECT] ENVIRONMENT [DEPLOY_ID]", num_args = 1..=3, required = true,
          add = ArgValueCompleter::new(completion::targets))]
    pub words: Vec<String>,
    /// For a `deploy_serial`: hosts switched at once [default: as the file says]
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// For a `deploy_serial`: switch in these waves (`1,30%,100%`)
    #[arg(long, value_delimiter = ',', conflicts_with = "batch_size", value_name = "WAVES")]
    pub waves: Vec<deployer_config::WaveSize>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RollbackArgs {
    #[command(flatten)]
    pub target: Target,
    /// The release to go back to [default: the previous complete release]
    #[arg(long, value_name = "RELEASE_ID")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct BeginUpgradeArgs {
    #[command(flatten)]
    pub target: Target,
    /// Put up only the 503 page, so load balancers take the hosts out of service
    #[arg(long)]
    pub no_stay_healthy: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LockAction {
    /// Who holds the lock of an environment, and since when
    Status(Target),
    /// Release a lock; the holder's id must be given
    Release {
        #[command(flatten)]
        target: Target,
        /// The lock holder's deploy id, as `lock status` shows it
        #[arg(long)]
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dashed_aliases_parse() {
        let cli = Cli::try_parse_from(["deployer", "deploy-full", "myproject", "staging"]).unwrap();
        assert!(
            matches!(cli.command, Command::DeployFull(DeployArgs { ref target, .. }) if target.target == ["myproject", "staging"])
        );
    }

    #[test]
    fn host_flags_split_at_commas() {
        let cli = Cli::try_parse_from(["deployer", "hosts", "staging", "-H", "a,b", "-x", "c"]).unwrap();
        assert_eq!(cli.global.hosts, ["a", "b"]);
        assert_eq!(cli.global.exclude_hosts, ["c"]);
    }
}
