//! A host's next shell, opened before its phase: `sh -s` waiting on stdin. Over
//! a master, a new session costs a round trip to open its channel and, because
//! the script follows the exec request in a second small packet that waits for
//! the first one's acknowledgement, another before the script reaches the host
//! (at 50 ms: 0.16 s from start to end of an `echo`, against 0.06 s when the
//! shell was already open). So each phase opens the next phase's shell while it
//! runs, and the first one is opened when the host connects: a phase then costs
//! one round trip, its script out and its output back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssh::{Child, Session, Stdio};
use tokio::io::AsyncReadExt;

/// `sh -s` on the host, its three streams piped.
pub(crate) type RemoteShell = Child<Arc<Session>>;

/// Starts `sh -s` on the host over `session`; it runs the script it is sent.
pub(crate) async fn open_shell(session: &Arc<Session>) -> Result<RemoteShell, openssh::Error> {
    Session::arc_command(Arc::clone(session), "sh")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .await
}

/// Each connected host's waiting shell, by host index.
#[derive(Default)]
pub(crate) struct Standbys(Mutex<HashMap<usize, RemoteShell>>);

impl Standbys {
    pub(crate) fn put(&self, index: usize, shell: RemoteShell) {
        // A shell this replaces gets end of input, and exits.
        self.0.lock().expect("not poisoned").insert(index, shell);
    }

    /// The host's waiting shell, if it is still there: a shell whose output has
    /// ended (the server closed an idle channel, or the shell died) or that wrote
    /// something unasked is dropped, and the caller opens a new one.
    pub(crate) async fn take(&self, index: usize) -> Option<RemoteShell> {
        let mut shell = self.0.lock().expect("not poisoned").remove(&index)?;
        let stdout = shell.stdout().as_mut()?;
        let mut byte = [0u8; 1];
        // Polled once: a live shell has nothing to say yet.
        match tokio::time::timeout(Duration::ZERO, stdout.read(&mut byte)).await {
            Err(_pending) => Some(shell),
            Ok(_ended_or_spoke) => None,
        }
    }

    /// The host's waiting shell ends (before its master closes: it holds it).
    pub(crate) fn remove(&self, index: usize) {
        self.0.lock().expect("not poisoned").remove(&index);
    }

    pub(crate) fn clear(&self) {
        self.0.lock().expect("not poisoned").clear();
    }
}
