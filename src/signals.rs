//! The signals that ask a run to stop: Ctrl-C (SIGINT), and SIGTERM and SIGHUP,
//! which CI systems send when a job is cancelled and terminals when they close.
//! Each is handled as Ctrl-C is: no new steps, undo, unlock, exit 130; a second
//! one stops at once.

use tokio::signal::unix::{Signal, SignalKind, signal};

pub(crate) struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    /// Takes over the three signals for the rest of the process.
    pub(crate) fn listen() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The name of the next stop signal to arrive.
    pub(crate) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
