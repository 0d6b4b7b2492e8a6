//! The boundary between the executor and the machines it drives.

use std::future::Future;

use deployer_plan::PlanHost;

use crate::upload::Attachment;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives a host's output line by line while a script runs.
pub trait OutputSink: Send {
    fn line(&mut self, stream: Stream, line: &str);
}

/// Why a host could not be reached or a script could not be run. A script that
/// ran and failed is not an error: it is its exit status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the connection was lost: {0}")]
    Lost(String),
    #[error("{0}")]
    Other(String),
}

/// What setting up one host's connection took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Connected {
    /// Handshakes the host dropped during the banner exchange (the signature of
    /// sshd's `MaxStartups`) and that were tried again.
    pub dropped_handshakes: u32,
}

/// Runs scripts on hosts. Implementations: OpenSSH (`deployer-ssh`) and this
/// machine (`LocalTransport`).
pub trait Transport: Sync {
    /// Prepares `host` (for SSH: starts its control master). Called before the
    /// host's first script, and again after [`Transport::disconnect`].
    fn connect(&self, index: usize, host: &PlanHost) -> impl Future<Output = Result<Connected, TransportError>> + Send;

    /// Closes one host's connection (the executor keeps at most
    /// `max_connections` open); the next [`Transport::connect`] opens it again.
    fn disconnect(&self, index: usize) -> impl Future<Output = ()> + Send;

    /// Runs `script` with `sh -s` on the host, the script on standard input, and
    /// streams output lines to `sink`. Returns the exit status.
    fn run(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> impl Future<Output = Result<i32, TransportError>> + Send;

    /// [`Transport::run`] with `upload` sent ahead of the script on the same
    /// session, written to its path before the script starts (see
    /// [`Attachment`]). A transport that cannot send bytes refuses.
    fn run_receiving(
        &self,
        _index: usize,
        _host: &PlanHost,
        _upload: Attachment,
        _script: String,
        _sink: &mut dyn OutputSink,
    ) -> impl Future<Output = Result<i32, TransportError>> + Send {
        async { Err(TransportError::Other("this transport cannot send data to hosts".to_owned())) }
    }

    /// Says that the next script run on `index` is its last of the run unless
    /// something fails: a transport that prepares for a host's next script (SSH
    /// opens its shell while the one before runs) need not. A script run after
    /// all (an undo) works as without preparation.
    fn last_script_next(&self, _index: usize) {}

    /// Closes every connection. Called on every way out.
    fn close(&self) -> impl Future<Output = ()> + Send;
}
