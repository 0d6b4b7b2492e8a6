//! `deployer-exec`: runs a [`Plan`](deployer_plan::Plan) on many hosts.
//!
//! - [`Transport`]: the boundary to the machines; [`LocalTransport`] runs on this
//!   machine, `deployer-ssh` provides OpenSSH.
//! - [`Wire`]: one script per host per phase on `sh -s`'s stdin; steps report
//!   start, end and exit status with nonce'd markers; each step is time-limited on
//!   the host itself.
//! - [`Executor`]: phases in order with a barrier after each; hosts concurrently
//!   up to the pool size, or in batches; fail-fast (or warn-only); undo of what ran,
//!   newest phase first; an [`Outcome`] whose status maps to an exit code.
//!
//! Architecture invariant: this crate never prints; it reports [`Event`]s.

mod cloud;
mod events;
mod executor;
mod lines;
mod local;
mod locks;
mod mask;
mod nonce;
mod outcome;
mod secrets;
mod transport;
mod upload;
mod wire;

pub use cloud::{Cloud, CloudDone, CloudState, LaunchedInstance, NoCloud};
pub use events::{Event, Reporter, Silent};
pub use executor::{DEFAULT_CONNECT_CONCURRENCY, ExecOptions, Executor};
pub use lines::{MAX_LINE, read_both, read_lines};
pub use local::{LocalTransport, run_sh, run_sh_with};
pub use mask::Masker;
pub use nonce::random_hex;
pub use outcome::{Failure, HostReport, HostResult, Outcome, RunStatus};
pub use secrets::{SecretsError, parse_secrets};
pub use transport::{
    Connected, OutputSink, Pace, Replies, SharedRate, Stream, Transport, TransportError, until_read, write_input,
};
pub use upload::{Base, FixedUploads, MAX_AHEAD, UploadFuture, UploadSource};
pub use wire::{Ahead, KILL_GRACE_SECONDS, Marker, TIMED_OUT_STATUS, Wire};
