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

    /// Says how many scripts `index` runs after its next one unless something
    /// fails: a transport that prepares for a host's coming scripts (SSH opens
    /// their shells while the one before runs) prepares no more than that. A
    /// script run after all (an undo) works as without preparation.
    fn scripts_after_next(&self, _index: usize, _left: usize) {}

    /// Closes every connection. Called on every way out.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// How fast a session's replies are written: at most `chunk` bytes per `every`.
///
/// Why an SSH session needs it: sshd takes in as much as its channel window
/// allows (2 MB) however slowly the host's step reads it, and grows the buffer
/// that holds it by copying it whole, each new size a fresh, zeroed mapping.
/// Written at once, a 5.3 MB archive cost the receiving sshd 0.05-0.20 s of CPU
/// and took longer to arrive; at a pipe's worth (64 KiB, what sshd hands the
/// step per turn) per millisecond, 0.01-0.02 s (loopback, OpenSSH 9.2; see
/// docs/benchmarks.md). A link slower than the pace paces itself, so only a
/// faster one ever waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub chunk: usize,
    pub every: std::time::Duration,
}

impl Pace {
    /// 64 KiB every millisecond: 64 MiB/s, about half a 1 Gbit/s link.
    pub const SSH: Pace = Pace { chunk: 64 * 1024, every: std::time::Duration::from_millis(1) };
}

/// A send rate every session of a run shares: each chunk a paced session writes
/// takes its turn, so many hosts receiving at once share the rate. Over SSH the
/// same reason as [`Pace`]'s, for the fleet: ten hosts each at 64 MiB/s outran
/// their readers on a shared machine, and their sshds buffered (docs/benchmarks.md).
#[derive(Debug)]
pub struct SharedRate {
    /// When the next byte may go.
    next: std::sync::Mutex<Option<tokio::time::Instant>>,
    bytes_per_second: u64,
}

impl SharedRate {
    /// 128 MiB/s: a 1 Gbit/s link, which is what most machines deploy from.
    pub const SSH_BYTES_PER_SECOND: u64 = 128 * 1024 * 1024;

    pub fn new(bytes_per_second: u64) -> Self {
        Self { next: std::sync::Mutex::new(None), bytes_per_second: bytes_per_second.max(1) }
    }

    /// When `bytes` may go: at once, or after what others reserved before.
    fn reserve(&self, bytes: usize) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        let mut next = self.next.lock().expect("not poisoned");
        let at = next.map_or(now, |next| next.max(now));
        let nanos = u128::try_from(bytes).unwrap_or(u128::MAX) * 1_000_000_000 / u128::from(self.bytes_per_second);
        *next = Some(at + std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)));
        at
    }
}

/// Writes a session's input: `script`, then whatever `replies` brings until it
/// closes (each at `pace`, if given, and within `shared`, if given), then the
/// end of the input. A shell that ends early closes its input; that is not an
/// error here.
pub async fn write_input(
    mut stdin: impl tokio::io::AsyncWrite + Unpin,
    script: String,
    replies: Option<Replies>,
    (pace, shared): (Option<Pace>, Option<&SharedRate>),
) {
    use tokio::io::AsyncWriteExt;
    if stdin.write_all(script.as_bytes()).await.is_err() {
        return;
    }
    if let Some(mut replies) = replies {
        // Written as it comes: the host is waiting for it.
        let _ = stdin.flush().await;
        // A zero interval is no pace (and tokio's intervals refuse one).
        let mut pacer = pace.filter(|pace| !pace.every.is_zero()).map(|pace| Pacer::new(pace, shared));
        while let Some(bytes) = replies.recv().await {
            let written = match &mut pacer {
                Some(pacer) => pacer.write(&mut stdin, &bytes).await,
                None => stdin.write_all(&bytes).await,
            };
            if written.is_err() {
                return;
            }
        }
    }
    let _ = stdin.shutdown().await;
}

/// Writes at a [`Pace`]: each tick allows `chunk` more bytes, the first
/// `chunk` at once.
struct Pacer<'a> {
    ticks: tokio::time::Interval,
    chunk: usize,
    /// What the current tick still allows.
    left: usize,
    shared: Option<&'a SharedRate>,
}

impl<'a> Pacer<'a> {
    fn new(pace: Pace, shared: Option<&'a SharedRate>) -> Self {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + pace.every, pace.every);
        // Behind schedule (the host read slowly) is no reason for a burst.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let chunk = pace.chunk.max(1);
        Self { ticks, chunk, left: chunk, shared }
    }

    async fn write(
        &mut self,
        stdin: &mut (impl tokio::io::AsyncWrite + Unpin),
        mut bytes: &[u8],
    ) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        while !bytes.is_empty() {
            if self.left == 0 {
                self.ticks.tick().await;
                self.left = self.chunk;
            }
            let (now, rest) = bytes.split_at(bytes.len().min(self.left));
            if let Some(shared) = self.shared {
                tokio::time::sleep_until(shared.reserve(now.len())).await;
            }
            stdin.write_all(now).await?;
            stdin.flush().await?;
            self.left -= now.len();
            bytes = rest;
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use super::*;

    /// Records when each write came (on tokio's paused clock) and how long it was.
    #[derive(Default)]
    struct Recorder {
        start: Option<tokio::time::Instant>,
        writes: Vec<(Duration, usize)>,
    }

    impl tokio::io::AsyncWrite for Recorder {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
            let start = *self.start.get_or_insert_with(tokio::time::Instant::now);
            self.writes.push((start.elapsed(), bytes.len()));
            Poll::Ready(Ok(bytes.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// The writes of a script and a reply of a 3-byte size line and `reply` bytes.
    async fn written(pace: Option<Pace>, reply: usize) -> Vec<(Duration, usize)> {
        let (send, receive) = tokio::sync::mpsc::channel(2);
        send.send(Arc::from(&b"99\n"[..])).await.unwrap();
        send.send(Arc::from(vec![7u8; reply])).await.unwrap();
        drop(send);
        let mut recorder = Recorder::default();
        write_input(&mut recorder, "script\n".to_owned(), Some(receive), (pace, None)).await;
        recorder.writes
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_reply_goes_a_chunk_per_tick() {
        let pace = Pace { chunk: 100, every: Duration::from_millis(2) };
        let writes = written(Some(pace), 250).await;
        let ms = |ms| Duration::from_millis(ms);
        assert_eq!(writes, [(ms(0), 7), (ms(0), 3), (ms(0), 97), (ms(2), 100), (ms(4), 53)]);
    }

    /// Two sessions sharing a rate of 100 bytes per millisecond, each paced at
    /// 100 bytes per millisecond on its own, take turns.
    #[tokio::test(start_paused = true)]
    async fn sessions_sharing_a_rate_take_turns() {
        let shared = SharedRate::new(100_000);
        let pace = Some(Pace { chunk: 100, every: Duration::from_millis(1) });
        let session = || async {
            let (send, receive) = tokio::sync::mpsc::channel(1);
            send.send(Arc::from(vec![7u8; 300])).await.unwrap();
            drop(send);
            let mut recorder = Recorder::default();
            write_input(&mut recorder, String::new(), Some(receive), (pace, Some(&shared))).await;
            recorder.start.unwrap() + recorder.writes.last().unwrap().0
        };
        let start = tokio::time::Instant::now();
        let (first, second) = tokio::join!(session(), session());
        // 600 bytes at 100 a millisecond: the last goes out at 5 ms, not 2 ms.
        assert_eq!(first.max(second) - start, Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unpaced_reply_goes_at_once() {
        let at_once = [(Duration::ZERO, 7), (Duration::ZERO, 3), (Duration::ZERO, 250)];
        assert_eq!(written(None, 250).await, at_once);
        assert_eq!(written(Some(Pace { chunk: 100, every: Duration::ZERO }), 250).await, at_once);
    }
}
