//! Everything the planner needs, gathered by the caller. The planner itself reads
//! no file, no clock and no network.

use crate::cloud::ScalingProcess;
use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use deployer_config::{Config, TargetHost};

use crate::model::Revision;

/// The command to compile and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    CreateEnvironment,
    DeployFull,
    DeploySerial {
        batch_size: Option<u32>,
        /// `--waves`: replaces the waves of `rollout:` (keeping its bake and gate).
        waves: Option<Vec<deployer_config::WaveSize>>,
    },
    Rollback {
        to: Option<String>,
    },
    BeginUpgrade {
        stay_healthy: bool,
    },
    EndUpgrade,
    UpdateServerPasswords,
    /// An ad-hoc shell command (`deployer run ENV -- COMMAND`).
    Run {
        command: String,
    },
    /// Read each host's releases, history and lock (`status`, `lock status`).
    Status,
    /// Remove the environment's lock, only if `id` holds it.
    LockRelease {
        id: String,
    },
    /// A named task of `tasks:`.
    Task {
        name: String,
    },
    /// `create_image` (`FabulAWS`'s `create_launch_config_for_deployment`): a builder
    /// server gets the release, becomes an image, and the image a new version of
    /// the group's launch template.
    CreateImage,
    /// Finish or undo a group deploy that died, from what it recorded in AWS.
    Recover,
    /// Auto Scaling `SuspendProcesses` on the environment's group (all when none named).
    SuspendProcesses {
        processes: Vec<ScalingProcess>,
    },
    /// Auto Scaling `ResumeProcesses` on the environment's group (all when none named).
    ResumeProcesses {
        processes: Vec<ScalingProcess>,
    },
    /// `deployer resume`: a deploy that stopped before its switch continues with
    /// the same commit and release id ([`Invocation::stamp`] must be the release's
    /// stamp). Hosts where the release is complete are verified, not rebuilt.
    Resume {
        /// The command that shipped the release: `deploy_full` or `deploy_serial`.
        command: Box<CommandSpec>,
        release: String,
        /// Names of the hosts where the release is already complete.
        prepared: Vec<String>,
    },
}

impl CommandSpec {
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateEnvironment => "create_environment",
            Self::CreateImage => "create_image",
            Self::Recover => "recover",
            Self::DeployFull => "deploy_full",
            Self::DeploySerial { .. } => "deploy_serial",
            Self::Rollback { .. } => "rollback",
            Self::BeginUpgrade { .. } => "begin_upgrade",
            Self::EndUpgrade => "end_upgrade",
            Self::UpdateServerPasswords => "update_server_passwords",
            Self::Run { .. } => "run",
            Self::Status => "status",
            Self::LockRelease { .. } => "lock_release",
            Self::Task { .. } => "task",
            Self::SuspendProcesses { .. } => "suspend_autoscaling_processes",
            Self::ResumeProcesses { .. } => "resume_autoscaling_processes",
            Self::Resume { .. } => "resume",
        }
    }

    /// The command whose release this run ships: a resume's resumed command.
    pub fn shipping(&self) -> &Self {
        match self {
            Self::Resume { command, .. } => command,
            other => other,
        }
    }

    /// Whether the command is cloud calls only, run on no host.
    pub fn runs_on_no_host(&self) -> bool {
        matches!(self, Self::SuspendProcesses { .. } | Self::ResumeProcesses { .. } | Self::Recover)
    }

    /// Whether the command ships a new release (and so needs a revision).
    pub fn ships_a_release(&self) -> bool {
        matches!(
            self,
            Self::CreateEnvironment
                | Self::CreateImage
                | Self::DeployFull
                | Self::DeploySerial { .. }
                | Self::Resume { .. }
        )
    }

    /// Whether the command needs the environment's Auto Scaling group as it is now.
    pub fn needs_group(&self) -> bool {
        matches!(self, Self::CreateImage | Self::Recover)
    }
}

/// Who runs this deploy, from where, and when: recorded in locks and history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub deploy_id: String,
    pub local_user: String,
    pub controller: String,
    pub pid: u32,
    /// UTC, `YYYYmmddTHHMMSSZ`: the first half of release ids.
    pub stamp: String,
    /// UTC, RFC 3339, for people.
    pub started_at: String,
}

/// Local files the plan embeds, by the path the configuration names them with
/// (templates and maintenance pages).
pub type Sources = BTreeMap<Utf8PathBuf, String>;

pub struct PlanInput<'a> {
    pub config: &'a Config,
    pub deployment: &'a str,
    pub environment: &'a str,
    pub command: CommandSpec,
    pub hosts: &'a [TargetHost],
    /// Required by commands that ship a release.
    pub revision: Option<Revision>,
    pub invocation: Invocation,
    pub sources: &'a Sources,
    /// What ships since the last deploy from this machine, when the caller knows.
    pub shipping: Option<crate::model::Shipping>,
    /// The environment's Auto Scaling group as AWS described it, for commands that
    /// need it ([`CommandSpec::needs_group`]).
    pub group: Option<GroupSnapshot>,
}

/// An Auto Scaling group as it was when the run started (read-only calls made by
/// the caller, so planning stays pure).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupSnapshot {
    pub name: String,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    /// The launch template and the numbered version the group launches from.
    pub template: Option<TemplateVersion>,
    /// The launch configuration of a group that still uses one.
    pub launch_configuration: Option<String>,
    /// Its instances, by id.
    pub instances: Vec<GroupMember>,
    /// The group's tags (`deployer:deploy` marks a deploy in progress).
    pub tags: Vec<(String, String)>,
    /// The deploy the group's tags say is in progress (or died), if any.
    pub deploy: Option<DeployMark>,
    /// Processes suspended now (by an operator, or a deploy).
    pub suspended: Vec<crate::cloud::ScalingProcess>,
    /// The load balancer target groups the group's instances serve behind (ARNs).
    pub target_groups: Vec<String>,
    /// Classic load balancers the group names.
    pub load_balancers: Vec<String>,
    /// The versions of its launch template deployer made, newest first (what a
    /// rollback can go back to).
    pub versions: Vec<TemplateVersion>,
    /// What is changing the group now, one line each: an instance refresh or a
    /// scaling activity in progress. A deploy refuses to start over either.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub busy: Vec<String>,
}

/// What a group deploy recorded in AWS before it changed the group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeployMark {
    pub deploy_id: String,
    /// The capacity and launch template version to go back to.
    pub restore: crate::cloud::Capacity,
    pub version: u64,
    /// The processes it suspended (none it found suspended already).
    pub suspends: Vec<crate::cloud::ScalingProcess>,
    /// The instances it tagged to retire that still run.
    pub retiring: Vec<String>,
}

/// What `deployer:restore` holds: the capacity, the template version and the
/// processes the deploy suspended.
pub type Restore = (crate::cloud::Capacity, u64, Vec<crate::cloud::ScalingProcess>);

impl DeployMark {
    /// `deployer:restore`'s value: `<min>,<desired>,<max>,<version>,<process>+<process>`.
    pub fn restore_value(
        restore: crate::cloud::Capacity,
        version: u64,
        suspends: &[crate::cloud::ScalingProcess],
    ) -> String {
        let processes: Vec<&str> = suspends.iter().map(|process| process.name()).collect();
        format!("{},{},{},{version},{}", restore.min, restore.desired, restore.max, processes.join("+"))
    }

    /// Reads [`DeployMark::restore_value`]'s text back; `None` when it is not one.
    pub fn parse_restore(value: &str) -> Option<Restore> {
        let mut fields = value.split(',');
        let mut number = || fields.next()?.parse::<u64>().ok();
        let small = |value: u64| u32::try_from(value).ok();
        let (min, desired, max, version) = (small(number()?)?, small(number()?)?, small(number()?)?, number()?);
        let processes = match fields.next() {
            None | Some("") => Vec::new(),
            Some(names) => names.split('+').map(crate::cloud::ScalingProcess::parse).collect::<Option<Vec<_>>>()?,
        };
        if fields.next().is_some() {
            return None;
        }
        Some((crate::cloud::Capacity { min, desired, max }, version, processes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{Capacity, ScalingProcess};

    #[test]
    fn restore_values_round_trip_and_others_are_refused() {
        let capacity = Capacity { min: 2, desired: 3, max: 6 };
        let suspends = [ScalingProcess::AddToLoadBalancer, ScalingProcess::AzRebalance];
        let text = DeployMark::restore_value(capacity, 7, &suspends);
        assert_eq!(text, "2,3,6,7,AddToLoadBalancer+AZRebalance");
        assert_eq!(DeployMark::parse_restore(&text), Some((capacity, 7, suspends.to_vec())));
        assert_eq!(DeployMark::parse_restore("2,3,6,7,"), Some((capacity, 7, Vec::new())));
        for bad in ["", "2,3,6", "2,3,6,7,Launhc", "2,3,x,7,", "2,3,6,7,Launch,extra"] {
            assert_eq!(DeployMark::parse_restore(bad), None, "{bad}");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupMember {
    pub id: String,
    /// `InService`, `Pending`, `Terminating`, ...
    pub lifecycle: String,
    /// `Healthy` or `Unhealthy`.
    pub health: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateVersion {
    pub id: String,
    pub name: String,
    /// The version number (`$Latest` and `$Default` resolved).
    pub version: u64,
    /// The image that version launches.
    pub image: Option<String>,
    /// Its description (`deployer release <release id>` for the ones deployer made).
    pub description: Option<String>,
}

impl TemplateVersion {
    /// The release a version deployer made launches.
    pub fn release(&self) -> Option<&str> {
        self.description.as_deref()?.strip_prefix("deployer release ")
    }
}
