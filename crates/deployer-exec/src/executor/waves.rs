//! Phases that run in groups: batches and waves, and what happens between
//! waves (the bake, then the gate).

use std::collections::BTreeMap;
use std::time::Instant;

use deployer_plan::{Concurrency, HostWork, Phase, WaveGate};

use super::{Executor, elapsed_ms, gate};
use crate::cloud::Cloud;
use crate::events::Event;
use crate::transport::Transport;

impl<T: Transport, C: Cloud> Executor<'_, T, C> {
    /// The groups a phase's hosts run in: batches or waves (forward only; undo
    /// runs everywhere at once), else one group.
    pub(super) fn chunks<'w>(phase: &Phase, items: &[&'w HostWork], undo: bool) -> Vec<Vec<&'w HostWork>> {
        match &phase.concurrency {
            Concurrency::Batches { size } if !undo => {
                items.chunks((*size).max(1) as usize).map(<[&HostWork]>::to_vec).collect()
            }
            Concurrency::Waves { sizes } if !undo => {
                // Wave membership follows the plan's order of work, so hosts left
                // out (unreachable) do not shift later hosts into earlier waves.
                let mut wave_of = BTreeMap::new();
                let mut position = 0;
                for (wave, &size) in sizes.iter().enumerate() {
                    for work in phase.work.iter().skip(position).take(size as usize) {
                        wave_of.insert(work.host, wave);
                    }
                    position += size as usize;
                }
                let mut waves: Vec<Vec<&HostWork>> = vec![Vec::new(); sizes.len().max(1)];
                for &work in items {
                    let wave = wave_of.get(&work.host).copied().unwrap_or(waves.len() - 1);
                    waves[wave].push(work);
                }
                waves.retain(|wave| !wave.is_empty());
                waves
            }
            _ => vec![items.to_vec()],
        }
    }

    /// After a wave: the bake, then the gate. `Err` says why the rollout must stop.
    pub(super) async fn between_waves(
        &self,
        phase: &Phase,
        gate: &WaveGate,
        wave: usize,
        waves: usize,
        hosts: &[String],
    ) -> Result<(), String> {
        if gate.bake > 0 {
            self.reporter.report(Event::Baking { phase: phase.name.clone(), wave, seconds: gate.bake });
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(gate.bake.into())) => {}
                () = self.cancel.cancelled() => return Ok(()),
            }
        }
        let Some(command) = &gate.command else { return Ok(()) };
        let started = Instant::now();
        let facts = gate::Facts {
            plan: self.plan,
            wave,
            waves,
            hosts,
            directory: self.options.controller_directory.as_deref(),
        };
        let result = gate::run(command, gate.timeout, &facts, &self.cancel).await;
        self.reporter.report(Event::GateFinished {
            phase: phase.name.clone(),
            wave,
            error: result.as_ref().err().cloned(),
            duration_ms: elapsed_ms(started),
        });
        result
    }
}
