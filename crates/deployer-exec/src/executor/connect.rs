//! Connecting every host before the first phase, a bounded number at once.

use futures::stream::{self, StreamExt};

use super::Executor;
use crate::cloud::Cloud;
use crate::events::Event;
use crate::outcome::{Failure, HostResult, Outcome};
use crate::transport::Transport;

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// Connects every host with a bounded number of handshakes at once. Returns
    /// false when an unreachable host must stop the run.
    pub(super) async fn connect_all(&self, outcome: &mut Outcome, excluded: &mut [bool]) -> bool {
        if self.plan.hosts.is_empty() {
            // Cloud calls only: nothing to connect to.
            return !self.cancel.is_cancelled();
        }
        self.reporter.report(Event::Connecting { hosts: self.plan.hosts.len() });
        let results: Vec<(usize, Result<(), String>)> = stream::iter(self.plan.hosts.iter().enumerate())
            .map(|(index, host)| async move {
                if self.cancel.is_cancelled() {
                    return (index, Err("interrupted".to_owned()));
                }
                (index, self.transport.connect(index, host).await.map_err(|error| error.to_string()))
            })
            .buffer_unordered(self.options.connect_concurrency.max(1))
            .collect()
            .await;
        let mut fatal = false;
        for (index, result) in results {
            let host = self.plan.hosts[index].name.clone();
            match result {
                Ok(()) => self.reporter.report(Event::HostConnected { host }),
                Err(error) => {
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
        if excluded.iter().all(|&left_out| left_out) {
            fatal = true;
        }
        !fatal && !self.cancel.is_cancelled()
    }
}
