//! `deployer-ssh`: the only crate that knows SSH.
//!
//! [`FleetTransport`] implements [`deployer_exec::Transport`]: hosts marked
//! `connection: local` run on this machine; every other host gets one OpenSSH
//! `ControlMaster` (through the `openssh` crate, native multiplexing), started
//! before the first phase and closed at the end of the run, on every way out.
//!
//! Defaults that matter for safety: `BatchMode=yes` (no prompts), strict host-key
//! checking unless the configuration says `accept-new`, agent forwarding off, the
//! sockets in a private 0700 directory ([`ControlDir`]) with short names, and
//! `ControlPersist` limited so a master orphaned by `kill -9` still goes away.
//! With `ssh.control_persist` the masters of directly reached hosts outlive the
//! run in a private directory of their own (`persist.rs`), for the next run.

mod control_dir;
mod persist;
mod standby;
mod transport;

pub use control_dir::{ControlDir, ControlDirError};
pub use persist::disconnect_all;
pub use transport::{FleetTransport, SshSettings};
