//! Hosts that serve behind load balancer target groups ([`deployer_plan::Traffic`]): taken out
//! before their work in the phase and put back after, through the [`Cloud`], so
//! no request meets a server mid-switch.

use std::time::Instant;

use deployer_plan::protocol::captured::Captured;
use deployer_plan::{CloudAction, Effect, HostWork, Phase};

use super::host::WorkResult;
use super::lead::Lead;
use super::{Executor, RunContext, elapsed_ms};
use crate::cloud::Cloud;
use crate::events::Event;
use crate::transport::Transport;

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// `work`, with the host out of its target groups while it runs. In an undo
    /// (a switch back) it only goes back in, after the undo succeeded.
    pub(super) async fn run_work_in_service(
        &self,
        context: &RunContext,
        phase: &Phase,
        work: &HostWork,
        (captured, undo, lead): (&std::collections::BTreeMap<Captured, String>, bool, Option<&Lead>),
    ) -> WorkResult {
        let Some(traffic) = phase.traffic.as_ref().filter(|traffic| traffic.hosts.contains(&work.host)) else {
            return self.run_work(context, phase, work, (captured, lead)).await;
        };
        let name = self.plan.hosts[work.host].name.clone();
        if !undo {
            let title = format!("take {name} out of service");
            let action = traffic.leave(&self.address(context, work.host));
            if let Err(error) = self.traffic_step(context, &phase.name, &title, &action).await {
                // It may have left some of its groups: the undo puts it back.
                return WorkResult {
                    started: true,
                    error: Some((Some(title), error)),
                    failed_effect: Some(Effect::None),
                    ..WorkResult::not_started(work.host)
                };
            }
        }
        let mut result = self.run_work(context, phase, work, (captured, lead)).await;
        if result.error.is_none() {
            let title = format!("put {name} back in service");
            let join = traffic.join(&self.address(context, work.host));
            if let Err(error) = self.traffic_step(context, &phase.name, &title, &join).await {
                result.error = Some((Some(title), error));
                // Out of service after a switch back is not where it was.
                result.failed_effect = if undo { None } else { Some(Effect::None) };
            }
        }
        result
    }

    /// One traffic call, reported like a cloud step.
    async fn traffic_step(
        &self,
        context: &RunContext,
        phase: &str,
        title: &str,
        action: &CloudAction,
    ) -> Result<(), String> {
        let started = Instant::now();
        let state = context.cloud.lock().expect("not poisoned").clone();
        let result = self.cloud.run(action, &state).await.map(|done| done.note);
        self.reporter.report(Event::CloudStep {
            phase: phase.to_owned(),
            title: title.to_owned(),
            note: result.as_ref().ok().cloned(),
            error: result.as_ref().err().cloned(),
            duration_ms: elapsed_ms(started),
        });
        result.map(drop)
    }

    /// The address the host's server has: the one it was launched at, else the
    /// plan's.
    fn address(&self, context: &RunContext, host: usize) -> String {
        let state = context.cloud.lock().expect("not poisoned");
        state
            .launched
            .get(&host)
            .map_or_else(|| self.plan.hosts[host].host.clone(), |instance| instance.address.clone())
    }
}
