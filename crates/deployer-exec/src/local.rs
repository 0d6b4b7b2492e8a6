//! Hosts the configuration marks `connection: local`: scripts run on this machine
//! with `sh -s`, exactly as they would on a remote host.

use std::process::Stdio;

use deployer_plan::PlanHost;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::lines::read_both;
use crate::transport::{Connected, OutputSink, Transport, TransportError};
use crate::upload::Attachment;

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

    async fn run_receiving(
        &self,
        _index: usize,
        _host: &PlanHost,
        upload: Attachment,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        let words = upload.command();
        run_sh_with(Command::new(&words[0]).args(&words[1..]), Some(&upload.bytes), script, sink).await
    }

    async fn close(&self) {}
}

/// Spawns `command` (which reads a script on stdin), writes `script`, streams
/// output to `sink`, and returns the exit status.
///
/// # Panics
/// If `command` does not pipe what it was told to (never: this function sets it).
pub async fn run_sh(command: &mut Command, script: String, sink: &mut dyn OutputSink) -> Result<i32, TransportError> {
    run_sh_with(command, None, script, sink).await
}

/// [`run_sh`] with `data` written ahead of the script (see [`Attachment`]).
///
/// # Panics
/// As [`run_sh`].
pub async fn run_sh_with(
    command: &mut Command,
    data: Option<&[u8]>,
    script: String,
    sink: &mut dyn OutputSink,
) -> Result<i32, TransportError> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| TransportError::Other(format!("cannot start `sh`: {error}")))?;
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let write = async move {
        // A script that exits early closes its stdin; that is not an error here.
        if let Some(data) = data
            && stdin.write_all(data).await.is_err()
        {
            return;
        }
        let _ = stdin.write_all(script.as_bytes()).await;
        drop(stdin);
    };
    let ((), read) = tokio::join!(write, read_both(stdout, stderr, sink));
    read.map_err(|error| TransportError::Lost(error.to_string()))?;
    let status = child.wait().await.map_err(|error| TransportError::Lost(error.to_string()))?;
    Ok(status.code().unwrap_or(128 + 9))
}
