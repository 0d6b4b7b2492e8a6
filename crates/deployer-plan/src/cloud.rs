//! Steps that run on the machine running deployer against a cloud API, typed so a
//! plan stays printable and pure: `deployer plan` shows them exactly as the
//! executor will perform them, and no SDK type appears here.

use serde::Serialize;

/// One call (or a short sequence of calls with one meaning) to a cloud API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudStep {
    pub title: String,
    pub action: CloudAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CloudAction {
    /// Auto Scaling `SuspendProcesses` on `group`.
    SuspendProcesses { group: String, processes: Vec<ScalingProcess> },
    /// Auto Scaling `ResumeProcesses` on `group`.
    ResumeProcesses { group: String, processes: Vec<ScalingProcess> },
    /// Not a cloud call: a hook's `local:` command on this machine (`sh -c`, in the
    /// configuration's directory, with the deploy's facts), run by the executor
    /// itself.
    LocalCommand { command: String, timeout: u32 },
    /// EC2 `RunInstances` for the plan hosts `hosts` (launch slots, one instance
    /// each), then waits until they run; each slot becomes its instance's address.
    LaunchInstances { hosts: Vec<usize>, spec: Box<LaunchSpec> },
    /// Not a cloud call: waits until each of `hosts` accepts an ssh connection (a
    /// launched server's sshd starts after the instance runs), at most `timeout`
    /// seconds; run by the executor, which keeps the connections.
    WaitForSsh { hosts: Vec<usize>, timeout: u32 },
    /// EC2 `TerminateInstances` on the instances this run launched for `hosts`
    /// (slots never launched are skipped): never an instance it did not launch.
    TerminateInstances { hosts: Vec<usize> },
    /// EC2 `CreateTags` on the instances this run launched for `hosts`.
    TagInstances { hosts: Vec<usize>, tags: Vec<(String, String)> },
    /// EC2 `CreateImage` of the instance this run launched for `host`, tagged,
    /// then a wait until it is available; the image id is the run's `image`.
    CreateImage { host: usize, name: String, tags: Vec<(String, String)>, timeout: u32 },
    /// EC2 `DeregisterImage` of the run's `image` (and its snapshots), if it made one.
    DeleteImage,
    /// EC2 `CreateLaunchTemplateVersion` of `template` from `source_version`, with
    /// the run's `image`; the new version is the run's `template_version`.
    CreateTemplateVersion { template: String, source_version: u64, description: String },
    /// EC2 `DeleteLaunchTemplateVersions` of the run's `template_version`, if it made one.
    DeleteTemplateVersion { template: String },
    /// The deploy's state in AWS, so a deploy that died can be found: the group is
    /// tagged `deployer:deploy=<deploy id>` and
    /// `deployer:restore=<min>,<desired>,<max>,<template version>,<processes it suspends>`,
    /// and each instance to retire `deployer:retire=<deploy id>`.
    MarkDeploy {
        group: String,
        deploy_id: String,
        restore: Capacity,
        version: u64,
        suspends: Vec<ScalingProcess>,
        retire: Vec<String>,
    },
    /// Removes what `MarkDeploy` tagged.
    ClearDeploy { group: String, retire: Vec<String> },
    /// Auto Scaling `UpdateAutoScalingGroup`: `version` of the launch template (the
    /// run's new one when `None`), and `capacity`.
    ScaleOut { group: String, template: String, version: Option<u64>, capacity: Capacity },
    /// Puts a scaled-out group back: every instance not in `keep` is terminated
    /// (decrementing the capacity), then the group gets `version` and `capacity`.
    ScaleBack { group: String, template: String, version: u64, capacity: Capacity, keep: Vec<String> },
    /// Waits until `hosts.len()` instances of `group` that are not in `old` are in
    /// service, healthy and on `image` (the run's new one when `None`); each
    /// becomes one of `hosts`.
    WaitForGroup { group: String, hosts: Vec<usize>, old: Vec<String>, image: Option<String>, timeout: u32 },
    /// Undoes one batch of a serial group deploy: when every instance of `old`
    /// is still in the group (the batch's cull has not run), the instances bound
    /// to `hosts` are terminated (decrementing) and the group gets `version` and
    /// `capacity`; when the batch was culled already, it fails: its new
    /// instances stay, and the run is partial.
    ScaleBackBatch {
        group: String,
        hosts: Vec<usize>,
        old: Vec<String>,
        template: String,
        version: u64,
        capacity: Capacity,
    },
    /// Elastic Load Balancing `RegisterTargets` of the instances bound to `hosts` in each of
    /// `target_groups`, then a wait until each is `healthy` there. (A group whose
    /// `AddToLoadBalancer` is suspended does not register the instances it
    /// launches, and does not when it resumes either.)
    RegisterTargets { hosts: Vec<usize>, target_groups: Vec<String>, timeout: u32 },
    /// Elastic Load Balancing `DeregisterTargets` of the instances bound to `hosts`.
    DeregisterTargets { hosts: Vec<usize>, target_groups: Vec<String> },
    /// Housekeeping after a new image: the release images of `role` (tagged with
    /// the deployment and environment by deployer) beyond the newest `keep` are
    /// deregistered with their snapshots, and the versions of `template` that
    /// launch them deleted; never the run's image nor one in `protect`. What
    /// cannot be removed is reported in the note, never a failure.
    PruneImages {
        deployment: String,
        environment: String,
        role: String,
        template: String,
        keep: u32,
        protect: Vec<String>,
    },
    /// Auto Scaling `TerminateInstanceInAutoScalingGroup` of each of `instances`,
    /// decrementing the capacity: exactly these, never another.
    Cull { group: String, instances: Vec<String> },
    /// Auto Scaling `UpdateAutoScalingGroup`: `capacity`.
    SetCapacity { group: String, capacity: Capacity },
    /// Auto Scaling `StartInstanceRefresh` of `group` to the run's new version of
    /// `template`, launching before terminating (`MinHealthyPercentage` 100,
    /// `MaxHealthyPercentage` `max_healthy`; instances already on it skipped),
    /// then a wait until it succeeds, at most `timeout` seconds; then each of
    /// `hosts` becomes one of the group's instances on the run's image. AWS keeps
    /// going if deployer dies.
    RefreshInstances { group: String, template: String, max_healthy: u32, hosts: Vec<usize>, timeout: u32 },
    /// Puts a refreshed group back on `version` of `template`: a refresh still
    /// going is rolled back (else cancelled); then, unless the group is on
    /// `version` with every instance on `image`, a refresh to `version`, waited
    /// for at most `timeout` seconds.
    RefreshBack { group: String, template: String, version: u64, image: Option<String>, timeout: u32 },
    /// Elastic Load Balancing `DeregisterTargets` of the server at `address` (its
    /// instance, or the address for `ip` target groups) from each of
    /// `target_groups`, then a wait until no connection drains, at most `timeout`
    /// seconds. Made by the executor from a phase's [`Traffic`](crate::Traffic).
    LeaveTargetGroups { address: String, target_groups: Vec<String>, timeout: u32 },
    /// `RegisterTargets` of the server at `address` in each of `target_groups`,
    /// then a wait until it is `healthy` there, at most `timeout` seconds.
    JoinTargetGroups { address: String, target_groups: Vec<String>, timeout: u32 },
}

/// An Auto Scaling group's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub min: u32,
    pub desired: u32,
    pub max: u32,
}

impl std::fmt::Display for Capacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "min {}, desired {}, max {}", self.min, self.desired, self.max)
    }
}

/// Values cloud steps make for later ones (ids known only when the run makes them).
pub mod made {
    /// The image `CreateImage` made.
    pub const IMAGE: &str = "image";
    /// The launch template version `CreateTemplateVersion` made.
    pub const TEMPLATE_VERSION: &str = "template_version";
}

/// What one `RunInstances` asks for (every instance of one role in one zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchSpec {
    pub role: String,
    pub image: String,
    pub instance_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The data volume (`/dev/sdf`), when `volume_sizes` gives the role one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<DataVolume>,
    /// Tags set at launch, atomically with it (`role` is `<role>-PENDING`).
    pub tags: Vec<(String, String)>,
    /// Seconds the instances may take to be `running`.
    pub running_timeout: u32,
    /// Makes the call idempotent: a retried request launches nothing twice.
    pub client_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataVolume {
    pub gigabytes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub encrypted: bool,
}

impl CloudAction {
    /// The action as one line, for plans and progress.
    pub fn describe(&self) -> String {
        let names = |processes: &[ScalingProcess]| {
            processes.iter().map(|process| process.name()).collect::<Vec<_>>().join(", ")
        };
        match self {
            Self::SuspendProcesses { group, processes } => {
                format!("suspend {} of auto scaling group `{group}`", names(processes))
            }
            Self::ResumeProcesses { group, processes } => {
                format!("resume {} of auto scaling group `{group}`", names(processes))
            }
            Self::LocalCommand { command, timeout } => format!("run `{command}` on this machine (at most {timeout}s)"),
            Self::LaunchInstances { hosts, spec } => {
                let mut text = format!(
                    "launch {} `{}` server{} from {} ({})",
                    hosts.len(),
                    spec.role,
                    if hosts.len() == 1 { "" } else { "s" },
                    spec.image,
                    spec.instance_type
                );
                match (&spec.subnet, &spec.zone) {
                    (Some(subnet), _) => text.push_str(&format!(" in {subnet}")),
                    (None, Some(zone)) => text.push_str(&format!(" in zone {zone}")),
                    (None, None) => {}
                }
                if let Some(volume) = &spec.volume {
                    text.push_str(&format!(", a {} GB data volume", volume.gigabytes));
                }
                text.push_str(", and wait until they run");
                text
            }
            Self::WaitForSsh { hosts, timeout } => {
                format!("wait until {} new server(s) accept ssh (at most {timeout}s)", hosts.len())
            }
            Self::TerminateInstances { hosts } => {
                format!("terminate the {} server(s) this run launched", hosts.len())
            }
            Self::CreateImage { name, timeout, .. } => {
                format!("make the image `{name}` of the builder and wait until it is available (at most {timeout}s)")
            }
            Self::DeleteImage => "deregister the image this run made, and its snapshots".to_owned(),
            Self::CreateTemplateVersion { template, source_version, .. } => {
                format!(
                    "add a version of launch template {template} (a copy of version {source_version}) that launches the image"
                )
            }
            Self::DeleteTemplateVersion { template } => {
                format!("delete the version of launch template {template} this run made")
            }
            Self::TagInstances { hosts, tags } => {
                let tags: Vec<String> = tags.iter().map(|(key, value)| format!("{key}={value}")).collect();
                format!("tag the {} new server(s) {}", hosts.len(), tags.join(", "))
            }
            group_action => group_action.describe_group_action().unwrap_or_default(),
        }
    }

    /// The actions of deploys that replace a group's instances, as one line.
    fn describe_group_action(&self) -> Option<String> {
        Some(match self {
            Self::MarkDeploy { group, deploy_id, restore, retire, .. } => format!(
                "tag auto scaling group `{group}` deployer:deploy={deploy_id} (restore {restore}) and its {} \
                 instance(s) to retire deployer:retire",
                retire.len()
            ),
            Self::ClearDeploy { group, retire } => {
                format!("remove the deploy's tags from auto scaling group `{group}` and {} instance(s)", retire.len())
            }
            Self::ScaleOut { group, template, version: None, capacity } => {
                format!("point auto scaling group `{group}` at the new version of {template}; {capacity}")
            }
            Self::ScaleOut { group, template, version: Some(version), capacity } => {
                format!("point auto scaling group `{group}` at version {version} of {template}; {capacity}")
            }
            Self::ScaleBack { group, template, version, capacity, keep } => format!(
                "terminate every instance of auto scaling group `{group}` but the {} it had, then version {version} \
                 of {template}; {capacity}",
                keep.len()
            ),
            Self::WaitForGroup { group, hosts, image, timeout, .. } => format!(
                "wait until {} new instance(s) of auto scaling group `{group}` are in service on {} (at most \
                 {timeout}s)",
                hosts.len(),
                image.as_deref().unwrap_or("the new image")
            ),
            Self::ScaleBackBatch { group, hosts, old, template, version, capacity } => format!(
                "unless {} was culled already: terminate the batch's {} new instance(s) of auto scaling group \
                 `{group}`, then version {version} of {template}; {capacity}",
                old.join(", "),
                hosts.len()
            ),
            Self::RegisterTargets { hosts, target_groups, timeout } => format!(
                "register the {} new instance(s) in {} target group(s) and wait until they are healthy there (at most \
                 {timeout}s)",
                hosts.len(),
                target_groups.len()
            ),
            Self::DeregisterTargets { hosts, target_groups } => {
                format!("deregister the {} new instance(s) from {} target group(s)", hosts.len(), target_groups.len())
            }
            Self::PruneImages { role, template, keep, .. } => format!(
                "remove the `{role}` release images beyond the newest {keep}, and the versions of {template} that \
                 launch them"
            ),
            Self::Cull { group, instances } => format!(
                "terminate the {} old instance(s) of auto scaling group `{group}` ({})",
                instances.len(),
                instances.join(", ")
            ),
            Self::SetCapacity { group, capacity } => format!("set auto scaling group `{group}` to {capacity}"),
            Self::RefreshInstances { group, template, max_healthy, timeout, .. } => format!(
                "start an instance refresh of auto scaling group `{group}` to the new version of {template} (launch \
                 before terminate: healthy 100% to {max_healthy}%) and wait until it succeeds (at most {timeout}s)"
            ),
            Self::RefreshBack { group, template, version, timeout, .. } => format!(
                "roll back or cancel a refresh of auto scaling group `{group}` still going, then refresh it to \
                 version {version} of {template} unless every instance is on it (at most {timeout}s)"
            ),
            Self::LeaveTargetGroups { address, target_groups, timeout } => format!(
                "take {address} out of target group(s) {} and wait until its connections drained (at most {timeout}s)",
                target_groups.join(", ")
            ),
            Self::JoinTargetGroups { address, target_groups, timeout } => format!(
                "put {address} back in target group(s) {} and wait until it is healthy there (at most {timeout}s)",
                target_groups.join(", ")
            ),
            _ => return None,
        })
    }

    /// Whether the action only removes something the run made that serves no one
    /// (an image, a template version no group uses, a builder, tags): when it
    /// fails in an undo, the failure is reported, but every server still serves
    /// what it served before, so the run is not partial.
    pub fn is_cleanup(&self) -> bool {
        matches!(
            self,
            Self::DeleteImage
                | Self::DeleteTemplateVersion { .. }
                | Self::TerminateInstances { .. }
                | Self::ClearDeploy { .. }
        )
    }

    /// The plan hosts this action binds to instances when it succeeds.
    pub fn binds(&self) -> Option<&[usize]> {
        match self {
            Self::LaunchInstances { hosts, .. }
            | Self::WaitForGroup { hosts, .. }
            | Self::RefreshInstances { hosts, .. } => Some(hosts),
            _ => None,
        }
    }

    /// Whether this runs on this machine without a cloud API.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::LocalCommand { .. } | Self::WaitForSsh { .. })
    }
}

/// The Auto Scaling processes that can be suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ScalingProcess {
    Launch,
    Terminate,
    AddToLoadBalancer,
    AlarmNotification,
    #[serde(rename = "AZRebalance")]
    AzRebalance,
    HealthCheck,
    InstanceRefresh,
    ReplaceUnhealthy,
    ScheduledActions,
}

impl ScalingProcess {
    pub const ALL: [Self; 9] = [
        Self::Launch,
        Self::Terminate,
        Self::AddToLoadBalancer,
        Self::AlarmNotification,
        Self::AzRebalance,
        Self::HealthCheck,
        Self::InstanceRefresh,
        Self::ReplaceUnhealthy,
        Self::ScheduledActions,
    ];

    /// AWS's name for the process.
    pub fn name(self) -> &'static str {
        match self {
            Self::Launch => "Launch",
            Self::Terminate => "Terminate",
            Self::AddToLoadBalancer => "AddToLoadBalancer",
            Self::AlarmNotification => "AlarmNotification",
            Self::AzRebalance => "AZRebalance",
            Self::HealthCheck => "HealthCheck",
            Self::InstanceRefresh => "InstanceRefresh",
            Self::ReplaceUnhealthy => "ReplaceUnhealthy",
            Self::ScheduledActions => "ScheduledActions",
        }
    }

    /// Parses AWS's name, case-insensitively (`FabulAWS` users type them by hand).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|process| process.name().eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_names_round_trip_and_unknown_ones_are_refused() {
        for process in ScalingProcess::ALL {
            assert_eq!(ScalingProcess::parse(process.name()), Some(process));
        }
        assert_eq!(ScalingProcess::parse("azrebalance"), Some(ScalingProcess::AzRebalance));
        assert_eq!(ScalingProcess::parse("Launchh"), None);
    }
}
