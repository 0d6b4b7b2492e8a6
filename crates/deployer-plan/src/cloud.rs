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
        }
    }

    /// Whether this runs on this machine without a cloud API.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::LocalCommand { .. })
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
