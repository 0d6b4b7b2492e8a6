//! The connections a run holds open, and how new ones start.
//!
//! Without a budget every host is connected before the first phase and stays
//! connected. With `max_connections`, at most that many are open at once: a host
//! that is to work and has no connection takes a free slot, or the slot of an
//! idle host (whose connection is closed), or waits for one. The idle host given
//! up is the one that finished most recently: phases visit hosts in the same order,
//! so the hosts that finished first are the ones the next phase needs first (LRU
//! would close exactly those).
//!
//! Every new connection waits for one of `connect_concurrency` handshake slots
//! of its destination (host and port: one sshd, whose `MaxStartups` counts the
//! unauthenticated connections it has at once), for one of
//! [`MAX_HANDSHAKES`] across the fleet (each is an `ssh` process), and, with
//! `connect_rate`, for its turn in a schedule of evenly spaced starts, so no
//! phase (reconnects included) storms an sshd. Distinct hosts do not wait for
//! each other's handshakes beyond the fleet-wide bound.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// What a host must do before it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// Its connection is open.
    Open,
    /// It has a slot and must connect; first close `evict`'s connection.
    Connect { evict: Option<usize> },
}

#[derive(Debug, Default)]
struct Pool {
    open: BTreeSet<usize>,
    busy: BTreeSet<usize>,
    /// Open and not working, the most recently finished last.
    idle: VecDeque<usize>,
    /// Connections being closed: their hosts wait until the close is done.
    closing: BTreeSet<usize>,
}

/// Handshakes in flight at once across the fleet: each is an `ssh` process and
/// most of a core for its key exchange, so more than this only queues them in
/// the kernel instead of here.
pub const MAX_HANDSHAKES: usize = 64;

pub(crate) struct Connections {
    limit: Option<usize>,
    pool: Mutex<Pool>,
    changed: Notify,
    /// Fleet-wide handshake slots.
    handshakes: Semaphore,
    /// Handshake slots per destination sshd, `per_destination` each.
    destinations: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_destination: usize,
    schedule: Option<Schedule>,
    /// Connections started during the run (reconnects included; one that then
    /// failed counts too).
    pub opened: AtomicUsize,
    /// Handshakes the hosts dropped before the banner and that were tried again.
    pub dropped_handshakes: AtomicU32,
}

impl Connections {
    pub(super) fn new(limit: Option<usize>, concurrency: usize, rate: Option<u32>) -> Self {
        Self {
            limit: limit.map(|limit| limit.max(1)),
            pool: Mutex::new(Pool::default()),
            changed: Notify::new(),
            handshakes: Semaphore::new(MAX_HANDSHAKES),
            destinations: Mutex::new(HashMap::new()),
            per_destination: concurrency.max(1),
            schedule: rate.map(Schedule::per_second),
            opened: AtomicUsize::new(0),
            dropped_handshakes: AtomicU32::new(0),
        }
    }

    /// Waits until `host` may work: its connection is open, or it holds a slot to
    /// open one.
    pub(super) async fn acquire(&self, host: usize) -> Slot {
        loop {
            let changed = self.changed.notified();
            if let Some(slot) = self.try_acquire(host) {
                return slot;
            }
            changed.await;
        }
    }

    fn try_acquire(&self, host: usize) -> Option<Slot> {
        let mut pool = self.pool.lock().expect("not poisoned");
        if pool.closing.contains(&host) {
            return None;
        }
        if pool.open.contains(&host) {
            pool.idle.retain(|&idle| idle != host);
            pool.busy.insert(host);
            return Some(Slot::Open);
        }
        let evict = match self.limit {
            Some(limit) if pool.open.len() >= limit => {
                let victim = pool.idle.pop_back()?;
                pool.open.remove(&victim);
                pool.closing.insert(victim);
                Some(victim)
            }
            _ => None,
        };
        pool.open.insert(host);
        pool.busy.insert(host);
        Some(Slot::Connect { evict })
    }

    /// `host`'s connection given up to make room is closed.
    pub(super) fn closed(&self, host: usize) {
        self.pool.lock().expect("not poisoned").closing.remove(&host);
        self.changed.notify_waiters();
    }

    /// `host` could not connect: it holds no slot.
    pub(super) fn failed(&self, host: usize) {
        let mut pool = self.pool.lock().expect("not poisoned");
        pool.open.remove(&host);
        pool.busy.remove(&host);
        drop(pool);
        self.changed.notify_waiters();
    }

    /// `host` finished its work; its connection stays open until its slot is needed.
    pub(super) fn release(&self, host: usize) {
        let mut pool = self.pool.lock().expect("not poisoned");
        if pool.busy.remove(&host) && pool.open.contains(&host) {
            pool.idle.push_back(host);
        }
        drop(pool);
        self.changed.notify_waiters();
    }

    /// Waits for a handshake slot of `destination` (`host:port`) and of the
    /// fleet, and for this connect's turn; the permits are held for the handshake.
    pub(super) async fn handshake(&self, destination: &str) -> Handshake<'_> {
        let semaphore = self
            .destinations
            .lock()
            .expect("not poisoned")
            .entry(destination.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_destination)))
            .clone();
        let destination = semaphore.acquire_owned().await.expect("the semaphore is never closed");
        let fleet = self.handshakes.acquire().await.expect("the semaphore is never closed");
        if let Some(schedule) = &self.schedule {
            tokio::time::sleep_until(schedule.next_start(Instant::now())).await;
        }
        self.opened.fetch_add(1, Ordering::Relaxed);
        Handshake { _destination: destination, _fleet: fleet }
    }

    /// Connections open now.
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.pool.lock().expect("not poisoned").open.len()
    }
}

/// The slots one handshake holds until it is done.
pub(super) struct Handshake<'a> {
    _destination: OwnedSemaphorePermit,
    _fleet: SemaphorePermit<'a>,
}

/// Evenly spaced start times: at most `rate` per second, without bursts.
struct Schedule {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Schedule {
    fn per_second(rate: u32) -> Self {
        Self { interval: Duration::from_secs(1) / rate.max(1), next: Mutex::new(None) }
    }

    /// The start time of the next connect asked for at `now`: the later of `now`
    /// and one interval after the previous start.
    fn next_start(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().expect("not poisoned");
        let start = next.map_or(now, |next| next.max(now));
        *next = Some(start + self.interval);
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_limit_every_host_connects_once_and_stays() {
        let connections = Connections::new(None, 8, None);
        for host in 0..5 {
            assert_eq!(connections.try_acquire(host), Some(Slot::Connect { evict: None }));
            connections.release(host);
        }
        for host in 0..5 {
            assert_eq!(connections.try_acquire(host), Some(Slot::Open));
            connections.release(host);
        }
        assert_eq!(connections.open_count(), 5);
    }

    #[test]
    fn at_the_limit_the_most_recently_finished_idle_host_gives_up_its_slot() {
        let connections = Connections::new(Some(2), 8, None);
        assert_eq!(connections.try_acquire(0), Some(Slot::Connect { evict: None }));
        assert_eq!(connections.try_acquire(1), Some(Slot::Connect { evict: None }));
        // Both busy: host 2 waits.
        assert_eq!(connections.try_acquire(2), None);
        connections.release(0);
        connections.release(1);
        assert_eq!(connections.try_acquire(2), Some(Slot::Connect { evict: Some(1) }));
        // Host 1 is being closed: it waits for the close before connecting again.
        assert_eq!(connections.try_acquire(1), None);
        connections.closed(1);
        connections.release(2);
        // The next phase: host 0 is still open; host 1 takes host 2's slot.
        assert_eq!(connections.try_acquire(0), Some(Slot::Open));
        assert_eq!(connections.try_acquire(1), Some(Slot::Connect { evict: Some(2) }));
        assert_eq!(connections.open_count(), 2);
    }

    #[test]
    fn a_failed_connect_frees_its_slot() {
        let connections = Connections::new(Some(1), 8, None);
        assert_eq!(connections.try_acquire(0), Some(Slot::Connect { evict: None }));
        connections.failed(0);
        assert_eq!(connections.try_acquire(1), Some(Slot::Connect { evict: None }));
        assert_eq!(connections.open_count(), 1);
    }

    #[test]
    fn the_schedule_spaces_starts_evenly_and_never_saves_up_a_burst() {
        let schedule = Schedule::per_second(4);
        let t0 = Instant::now();
        let starts: Vec<Duration> = (0..3).map(|_| schedule.next_start(t0) - t0).collect();
        assert_eq!(starts, [Duration::ZERO, Duration::from_millis(250), Duration::from_millis(500)]);
        // Asked long after: starts at once, and the next is one interval later.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(schedule.next_start(later), later);
        assert_eq!(schedule.next_start(later) - later, Duration::from_millis(250));
    }

    #[tokio::test]
    async fn handshakes_wait_for_their_own_sshd_not_for_other_hosts() {
        let connections = Connections::new(None, 2, None);
        let first = connections.handshake("web1:22").await;
        let _second = connections.handshake("web1:22").await;
        // web1's sshd has two handshakes in flight: a third waits ...
        let third = connections.handshake("web1:22");
        tokio::pin!(third);
        assert!(futures::poll!(third.as_mut()).is_pending());
        // ... while another host's starts at once.
        let other = connections.handshake("web2:22");
        tokio::pin!(other);
        assert!(futures::poll!(other.as_mut()).is_ready());
        drop(first);
        assert!(futures::poll!(third.as_mut()).is_ready());
    }

    #[tokio::test]
    async fn a_waiting_host_is_woken_when_a_slot_frees() {
        let connections = std::sync::Arc::new(Connections::new(Some(1), 8, None));
        assert_eq!(connections.acquire(0).await, Slot::Connect { evict: None });
        let waiting = {
            let connections = connections.clone();
            tokio::spawn(async move { connections.acquire(1).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        connections.release(0);
        assert_eq!(waiting.await.unwrap(), Slot::Connect { evict: Some(0) });
    }
}
