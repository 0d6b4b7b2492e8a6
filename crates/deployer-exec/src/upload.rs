//! Bytes a host asks for during its phase (a plan step's
//! [`Upload`](deployer_plan::Upload): the `push` strategy's archive). The step
//! says what it already has (`scripts/request.sh`'s `deployer_request`, a wire
//! marker), the controller makes or reuses the bytes for that
//! ([`UploadSource`]) and replies on the same session's input: a line with the
//! size, the bytes, then the end of the input (`deployer_receive`). Raw bytes:
//! nothing to encode or quote, one copy in memory however many hosts take it,
//! and no more round trips than the phase's own.
//!
//! When the source can guess what a host has ([`UploadSource::guess`]), a
//! small upload for the guess travels in the step's script instead (base64,
//! see the wire): a host that has what was guessed takes it and never asks, so
//! the phase costs no round trip more than one without an upload.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The step functions a requesting step's script is given (see the wire).
pub(crate) const REQUEST_SCRIPT: &str = include_str!("../scripts/request.sh");

/// What an [`UploadSource`] gives back: the bytes, or why it could not make them.
pub type UploadFuture<'a> = Pin<Box<dyn Future<Output = Result<Arc<[u8]>, String>> + Send + 'a>>;

/// What a host has to build on, as its request says: nothing, or a commit.
pub type Base<'a> = Option<&'a str>;

/// Makes the uploads a run's hosts ask for. Hosts that say the same thing get
/// the same bytes: a source keeps what it made (the binary's makes each archive
/// once).
pub trait UploadSource: Send + Sync + std::fmt::Debug {
    /// Whether this source can make upload `name` at all (checked before any host
    /// is contacted).
    fn makes(&self, name: &str) -> bool;

    /// Upload `name` for a host that has `base`.
    fn upload<'a>(&'a self, name: &'a str, base: Base<'a>) -> UploadFuture<'a>;

    /// What `host` most likely has to build on for upload `name` (a commit), if
    /// this source can tell without asking it: the upload for that is then held
    /// in the requesting step's script, and a host that has it never asks.
    fn guess(&self, _name: &str, _host: &str) -> Option<String> {
        None
    }
}

/// The largest upload a step's script holds ahead of the host's request (more
/// is worth a round trip: it would travel to hosts that guess wrong, too).
pub const MAX_AHEAD: usize = 256 * 1024;

/// A source with fixed bytes per name, whatever the host has.
#[derive(Debug, Default, Clone)]
pub struct FixedUploads(pub BTreeMap<String, Arc<[u8]>>);

impl UploadSource for FixedUploads {
    fn makes(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn upload<'a>(&'a self, name: &'a str, _base: Base<'a>) -> UploadFuture<'a> {
        let bytes = self.0.get(name).cloned().ok_or_else(|| format!("the upload `{name}` was not made"));
        Box::pin(async move { bytes })
    }
}

/// The reply to a request, as the session's input carries it: a line with the
/// size, then the bytes (`deployer_receive` reads exactly this).
pub(crate) fn reply(bytes: Arc<[u8]>) -> [Arc<[u8]>; 2] {
    [Arc::from(format!("{}\n", bytes.len()).into_bytes()), bytes]
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::*;

    /// Runs `deployer_receive FILE` here with descriptor 3 reading `input`.
    fn receive(file: &std::path::Path, input: &[u8]) -> std::process::Output {
        let script = format!("set -eu\n{REQUEST_SCRIPT}\ndeployer_receive \"$1\" 3<&0\necho received\n");
        let mut child = Command::new("sh")
            .args(["-c", &script, "sh", file.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The step may end before reading it all (a refused reply).
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    }

    fn framed(bytes: &[u8]) -> Vec<u8> {
        reply(Arc::from(bytes)).iter().flat_map(|part| part.iter().copied()).collect()
    }

    #[test]
    fn a_reply_arrives_byte_exact_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        // Data that looks like a script and a size line, larger than any buffer.
        let mut data = b"12\necho this is data, never run\n".repeat(4000);
        data.extend_from_slice(&[0, 255, 10, 0]);
        let file = directory.path().join("got");
        let output = receive(&file, &framed(&data));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "received\n", "{output:?}");
        assert_eq!(std::fs::read(&file).unwrap(), data);
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_short_or_long_reply_leaves_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("got");
        for input in [&b"10\n0123"[..], b"2\n0123", b"", b"ten\n0123456789"] {
            let output = receive(&file, input);
            assert_eq!(output.status.code(), Some(1), "{input:?}: {output:?}");
            assert!(output.stdout.is_empty(), "{input:?}: the step went on");
            assert!(!file.exists(), "{input:?}: a partial file was kept");
        }
        let stderr = String::from_utf8_lossy(&receive(&file, b"10\n0123").stderr).into_owned();
        assert!(stderr.contains("did not arrive whole (4 of 10 bytes)"), "{stderr}");
        let stderr = String::from_utf8_lossy(&receive(&file, b"").stderr).into_owned();
        assert!(stderr.contains("sent no data"), "{stderr}");
    }

    #[test]
    fn a_reply_that_cannot_be_written_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let output = receive(&directory.path().join("missing/got"), &framed(b"data"));
        assert_eq!(output.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&output.stderr).contains("could not write what this machine sent"));
    }

    #[tokio::test]
    async fn fixed_uploads_give_the_same_bytes_to_every_host() {
        let source = FixedUploads(BTreeMap::from([("a".to_owned(), Arc::from(&b"x"[..]))]));
        assert!(source.makes("a") && !source.makes("b"));
        assert_eq!(&*source.upload("a", Some("abc")).await.unwrap(), b"x");
        assert!(source.upload("b", None).await.unwrap_err().contains("`b`"));
    }
}
