//! Exit codes. Each one tells a script what state the fleet is in.

/// The process exit status of a `deployer` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Everything asked for was done.
    Success = 0,
    /// A step failed before anything switched: the fleet is as it was.
    /// `check` also uses it for an invalid configuration.
    Failed = 1,
    /// Bad configuration or arguments; no host was contacted.
    BadInput = 2,
    /// A step failed after some hosts switched; they were all switched back.
    RolledBack = 3,
    /// Hosts are on different releases (`--on-failure=halt`, or a failed revert).
    Partial = 4,
    /// Another deploy holds the environment's lock; nothing was changed.
    Locked = 5,
    /// Interrupted (Ctrl-C).
    Interrupted = 130,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}
