//! Hosts the configuration marks `connection: local`: scripts run on this machine
//! with `sh -s`, exactly as they would on a remote host.

use std::process::Stdio;

use deployer_plan::PlanHost;
use tokio::process::Command;

use crate::lines::read_both;
use crate::transport::{Connected, OutputSink, Replies, Transport, TransportError};

#[derive(Debug, Default)]
pub struct LocalTransport;

impl Transport for LocalTransport {
    async fn connect(&self, _index: usize, _host: &PlanHost) -> Result<Connected, TransportError> {
        Ok(Connected::default())
    }

    async fn disconnect(&self, _index: usize) {}

    async fn run(
        &self,
        _index: usize,
        _host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        run_sh(Command::new("sh").arg("-s"), script, sink).await
    }

    async fn run_conversing(
        &self,
        _index: usize,
        _host: &PlanHost,
        script: String,
        replies: Replies,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        run_sh_with(Command::new("sh").arg("-s"), script, Some(replies), sink).await
    }

    async fn close(&self) {}
}

/// Spawns `command` (which reads a script on stdin), writes `script`, streams
/// output to `sink`, and returns the exit status.
///
/// # Panics
/// If `command` does not pipe what it was told to (never: this function sets it).
pub async fn run_sh(command: &mut Command, script: String, sink: &mut dyn OutputSink) -> Result<i32, TransportError> {
    run_sh_with(command, script, None, sink).await
}

/// [`run_sh`] with the input kept open after the script for `replies` (see
/// [`Transport::run_conversing`]).
///
/// # Panics
/// As [`run_sh`].
pub async fn run_sh_with(
    command: &mut Command,
    script: String,
    replies: Option<Replies>,
    sink: &mut dyn OutputSink,
) -> Result<i32, TransportError> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| TransportError::Other(format!("cannot start `sh`: {error}")))?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let write = crate::transport::write_input(stdin, script, replies, (None, None));
    let read = crate::transport::until_read(write, read_both(stdout, stderr, sink)).await;
    read.map_err(|error| TransportError::Lost(error.to_string()))?;
    let status = child.wait().await.map_err(|error| TransportError::Lost(error.to_string()))?;
    Ok(status.code().unwrap_or(128 + 9))
}
