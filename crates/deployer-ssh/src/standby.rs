//! A host's next shell, opened before its phase: `sh -s` waiting on stdin. Over
//! a master, a new session costs a round trip to open its channel and, because
//! the script follows the exec request in a second small packet that waits for
//! the first one's acknowledgement, another before the script reaches the host
//! (at 50 ms: 0.16 s from start to end of an `echo`, against 0.06 s when the
//! shell was already open). So each phase opens the next phase's shell while it
//! runs, and the first one is opened when the host connects: a phase then costs
//! one round trip, its script out and its output back.
//!
//! A shell is ready only two round trips after it is asked for: sshd opens
//! the channel's window once it has started the command. A phase shorter than
//! that (a migration's, on the one host that runs it) would leave the phase
//! after it waiting a round trip, so a host keeps up to [`SHELLS_AHEAD`] shells
//! waiting: the one after next is opened a phase earlier.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssh::{Child, Session, Stdio};
use tokio::io::AsyncReadExt;

/// How many shells a host keeps waiting for its coming phases, at most.
pub(crate) const SHELLS_AHEAD: usize = 2;

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

/// Each connected host's waiting shells, oldest first, by host index.
#[derive(Default)]
pub(crate) struct Standbys(Mutex<HashMap<usize, VecDeque<RemoteShell>>>);

impl Standbys {
    pub(crate) fn put(&self, index: usize, shell: RemoteShell) {
        self.0.lock().expect("not poisoned").entry(index).or_default().push_back(shell);
    }

    /// How many shells the host has waiting.
    pub(crate) fn count(&self, index: usize) -> usize {
        self.0.lock().expect("not poisoned").get(&index).map_or(0, VecDeque::len)
    }

    /// The host's oldest waiting shell that is still there: a shell whose output
    /// has ended (the server closed an idle channel, or the shell died) or that
    /// wrote something unasked is dropped (it gets end of input, and exits); with
    /// none left, the caller opens a new one.
    pub(crate) async fn take(&self, index: usize) -> Option<RemoteShell> {
        loop {
            let mut shell = self.0.lock().expect("not poisoned").get_mut(&index)?.pop_front()?;
            let Some(stdout) = shell.stdout().as_mut() else { continue };
            let mut byte = [0u8; 1];
            // Polled once: a live shell has nothing to say yet.
            if tokio::time::timeout(Duration::ZERO, stdout.read(&mut byte)).await.is_err() {
                return Some(shell);
            }
        }
    }

    /// The host's waiting shells end (before its master closes: they hold it).
    pub(crate) fn remove(&self, index: usize) {
        self.0.lock().expect("not poisoned").remove(&index);
    }

    pub(crate) fn clear(&self) {
        self.0.lock().expect("not poisoned").clear();
    }
}
