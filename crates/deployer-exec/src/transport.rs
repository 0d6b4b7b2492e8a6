//! The boundary between the executor and the machines it drives.

use std::future::Future;

use deployer_plan::PlanHost;

/// What the executor sends a session after its script (see
/// [`Transport::run_conversing`]).
pub type Replies = tokio::sync::mpsc::Receiver<std::sync::Arc<[u8]>>;

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

    /// [`Transport::run`], the session's input left open after the script for
    /// what `replies` brings (each written as it comes, in order), and closed
    /// when `replies` closes. The run ends when the script does, whatever is
    /// still to be sent. A transport that cannot send bytes refuses.
    fn run_conversing(
        &self,
        _index: usize,
        _host: &PlanHost,
        _script: String,
        _replies: Replies,
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

/// Writes a session's input: `script`, then whatever `replies` brings until it
/// closes, then the end of the input. A shell that ends early closes its input;
/// that is not an error here.
pub async fn write_input(mut stdin: impl tokio::io::AsyncWrite + Unpin, script: String, replies: Option<Replies>) {
    use tokio::io::AsyncWriteExt;
    if stdin.write_all(script.as_bytes()).await.is_err() {
        return;
    }
    if let Some(mut replies) = replies {
        // Written as it comes: the host is waiting for it.
        let _ = stdin.flush().await;
        while let Some(bytes) = replies.recv().await {
            if stdin.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }
    let _ = stdin.shutdown().await;
}

/// Runs `write` beside `read` and returns when `read` is done: the session's
/// output ended, so its script did, and nothing more of its input would be read
/// (a reply still to come is dropped).
pub async fn until_read<R>(write: impl Future<Output = ()>, read: impl Future<Output = R>) -> R {
    let mut write = std::pin::pin!(write);
    let mut read = std::pin::pin!(read);
    let mut written = false;
    loop {
        tokio::select! {
            result = &mut read => return result,
            () = &mut write, if !written => written = true,
        }
    }
}
