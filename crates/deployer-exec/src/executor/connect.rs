//! Connecting hosts: every host before the first phase (an unreachable host is
//! found before anything runs), and again before a host works when
//! `max_connections` closed its connection to make room for another.

use std::sync::atomic::Ordering;

use futures::stream::{self, StreamExt};

use super::connections::Slot;
use super::{Executor, RunContext};
use crate::cloud::Cloud;
use crate::events::Event;
use crate::outcome::{Failure, HostResult, Outcome};
use crate::transport::Transport;

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// Connects every host with a bounded number of handshakes at once. Returns
    /// false when an unreachable host must stop the run.
    pub(super) async fn connect_all(&self, context: &RunContext, outcome: &mut Outcome, excluded: &mut [bool]) -> bool {
        // Servers still to launch are connected once they run (`WaitForSsh`).
        let existing: Vec<usize> =
            (0..self.plan.hosts.len()).filter(|&index| self.plan.hosts[index].launch.is_none()).collect();
        if existing.is_empty() {
            // Cloud calls only, or only servers to launch: nothing to connect to yet.
            return !self.cancel.is_cancelled();
        }
        self.reporter.report(Event::Connecting { hosts: existing.len() });
        let results: Vec<(usize, Result<(), String>)> = stream::iter(existing.iter().copied())
            .map(|index| async move {
                if self.cancel.is_cancelled() {
                    return (index, Err("interrupted".to_owned()));
                }
                let result = self.open(context, index).await;
                context.connections.release(index);
                (index, result)
            })
            // The handshakes' own slots (per sshd and fleet-wide) bound them.
            .buffer_unordered(super::connections::MAX_HANDSHAKES)
            .collect()
            .await;
        let mut fatal = false;
        let mut unreachable = 0;
        for (index, result) in results {
            let host = self.plan.hosts[index].name.clone();
            match result {
                Ok(()) => self.reporter.report(Event::HostConnected { host }),
                Err(error) => {
                    unreachable += 1;
                    let skipped = self.options.skip_bad_hosts;
                    self.reporter.report(Event::HostUnreachable { host: host.clone(), error: error.clone(), skipped });
                    outcome.hosts[index].result = HostResult::Unreachable { error: error.clone() };
                    excluded[index] = true;
                    if !skipped {
                        fatal = true;
                        outcome.failures.push(Failure {
                            host,
                            phase: "connect".to_owned(),
                            step: None,
                            error,
                            output_tail: Vec::new(),
                        });
                    }
                }
            }
        }
        self.reporter.report(Event::Connected {
            hosts: existing.len(),
            unreachable,
            dropped_handshakes: context.connections.dropped_handshakes.load(Ordering::Relaxed),
        });
        if existing.iter().all(|&index| excluded[index]) && existing.len() == self.plan.hosts.len() {
            fatal = true;
        }
        !fatal && !self.cancel.is_cancelled()
    }

    /// Makes sure host `index` has an open connection: connects it when it has
    /// none, first closing an idle host's connection when the budget is spent. The
    /// caller gives the slot back with `context.connections.release`.
    pub(super) async fn open(&self, context: &RunContext, index: usize) -> Result<(), String> {
        let Slot::Connect { evict } = context.connections.acquire(index).await else { return Ok(()) };
        if let Some(idle) = evict {
            self.transport.disconnect(idle).await;
            context.connections.closed(idle);
        }
        let host = context.host(self.plan, index);
        let permit = context.connections.handshake(&destination(&host)).await;
        if host.launch.is_some() && !context.cloud.lock().expect("not poisoned").launched.contains_key(&index) {
            context.connections.failed(index);
            return Err("its server was never launched".to_owned());
        }
        let result = self.transport.connect(index, &host).await;
        drop(permit);
        match result {
            Ok(connected) => {
                if connected.dropped_handshakes > 0 {
                    context.connections.dropped_handshakes.fetch_add(connected.dropped_handshakes, Ordering::Relaxed);
                    self.reporter.report(Event::HandshakesDropped {
                        host: self.plan.hosts[index].name.clone(),
                        count: connected.dropped_handshakes,
                    });
                }
                Ok(())
            }
            Err(error) => {
                context.connections.failed(index);
                Err(error.to_string())
            }
        }
    }
}

/// The sshd a host's handshake reaches: its address and port (hosts named twice,
/// or behind one address, share it).
fn destination(host: &deployer_plan::PlanHost) -> String {
    format!("{}:{}", host.host, host.port.unwrap_or(22))
}
