//! The boundary between the executor and the machines it drives.

use std::future::Future;

use deployer_plan::PlanHost;

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

/// Runs scripts on hosts. Implementations: OpenSSH (`deployer-ssh`) and this
/// machine (`LocalTransport`).
pub trait Transport: Sync {
    /// Prepares `host` (for SSH: starts its control master). Called once per host,
    /// before the first phase.
    fn connect(&self, index: usize, host: &PlanHost) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Runs `script` with `sh -s` on the host, the script on standard input, and
    /// streams output lines to `sink`. Returns the exit status.
    fn run(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> impl Future<Output = Result<i32, TransportError>> + Send;

    /// Closes every connection. Called on every way out.
    fn close(&self) -> impl Future<Output = ()> + Send;
}
