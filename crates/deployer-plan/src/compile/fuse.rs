//! Fewer round trips: a phase that needs no fleet-wide barrier before it
//! ([`Phase::joins_previous`]) becomes part of the phase before it, so each host
//! runs both as one script. A deploy is then the lock with the prepare, the
//! migration, the switch with the restart and the health check, and the finish:
//! three round trips per host, four with migrations.
//!
//! Every barrier a guarantee rests on stays: nothing switches before every host
//! prepared (the switch never joins), migrations run once after every host
//! prepared and before any switch, the lock is released only after every host
//! is done. Undo is unchanged in effect: a fused phase's undo is its parts'
//! undo, newest part first, and every undo step leaves alone what its part did
//! not do (a switch back only moves a host that is on the new release).

use crate::model::{Concurrency, HostWork, Phase, Scope, StepKind};

/// `phases` with every phase that joins its predecessor merged into it, where
/// both allow it.
pub(super) fn fuse(phases: Vec<Phase>) -> Vec<Phase> {
    let mut fused: Vec<Phase> = Vec::with_capacity(phases.len());
    for mut phase in phases {
        let joins = phase.joins_previous;
        phase.joins_previous = false;
        match fused.last_mut() {
            Some(previous) if joins && can_fuse(previous, &phase) => merge(previous, phase),
            _ => fused.push(phase),
        }
    }
    fused
}

/// Whether `next` can run on each host right after its work in `previous`.
fn can_fuse(previous: &Phase, next: &Phase) -> bool {
    let on_hosts = |phase: &Phase| matches!(phase.scope, Scope::All | Scope::Role { .. });
    // A hook promises to run after (or before) its phase on every host.
    let hook = |phase: &Phase| phase.work.iter().flat_map(|work| &work.steps).any(|step| step.kind == StepKind::Hook);
    on_hosts(previous)
        && on_hosts(next)
        && matches!(previous.concurrency, Concurrency::Pool { .. })
        && previous.concurrency == next.concurrency
        // Values derived from every host's report must be combined before any use.
        && previous.derives.is_none()
        && previous.traffic.is_none()
        && next.traffic.is_none()
        && previous.between_waves.is_none()
        && next.between_waves.is_none()
        && previous.retires.is_empty()
        && next.retires.is_empty()
        && !hook(previous)
        && !hook(next)
}

/// Appends `next`'s work to `previous`, host by host, and puts `next`'s undo
/// before `previous`'s.
fn merge(previous: &mut Phase, next: Phase) {
    previous.name = format!("{}+{}", previous.name, next.name);
    previous.description = format!("{}; then {}", previous.description, next.description);
    if previous.scope != next.scope {
        previous.scope = Scope::All;
    }
    previous.derives = next.derives;
    previous.leads |= next.leads;
    append(&mut previous.work, next.work);
    let mut undo = next.undo;
    append(&mut undo, std::mem::take(&mut previous.undo));
    previous.undo = undo;
}

/// `more`'s steps after `work`'s on the same host; hosts only in `more` last.
fn append(work: &mut Vec<HostWork>, more: Vec<HostWork>) {
    for extra in more {
        match work.iter_mut().find(|work| work.host == extra.host) {
            Some(existing) => existing.steps.extend(extra.steps),
            None => work.push(extra),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Effect, Step};
    use crate::script::Script;

    fn step(kind: StepKind, title: &str) -> Step {
        Step {
            kind,
            title: title.to_owned(),
            timeout: 60,
            effect: Effect::None,
            script: Script::text(String::new()),
            upload: None,
        }
    }

    fn phase(name: &str, hosts: &[usize], kind: StepKind) -> Phase {
        let work = hosts.iter().map(|&host| HostWork { host, steps: vec![step(kind, name)] }).collect();
        let mut phase = Phase::new(name, name, Scope::All, Concurrency::Pool { size: 2 }, work);
        phase.undo =
            hosts.iter().map(|&host| HostWork { host, steps: vec![step(kind, &format!("undo {name}"))] }).collect();
        phase
    }

    fn titles(work: &[HostWork], host: usize) -> Vec<&str> {
        work.iter().find(|work| work.host == host).unwrap().steps.iter().map(|step| step.title.as_str()).collect()
    }

    #[test]
    fn a_joining_phase_runs_in_the_same_script_and_its_undo_comes_first() {
        let phases = fuse(vec![
            phase("lock", &[0, 1], StepKind::Lock),
            phase("prepare", &[0, 1], StepKind::PrepareRelease).joining(),
            phase("switch", &[0, 1], StepKind::Switch),
            phase("restart", &[1], StepKind::Restart).joining(),
        ]);
        let names: Vec<&str> = phases.iter().map(|phase| phase.name.as_str()).collect();
        assert_eq!(names, ["lock+prepare", "switch+restart"]);
        assert_eq!(titles(&phases[0].work, 1), ["lock", "prepare"]);
        assert_eq!(titles(&phases[0].undo, 0), ["undo prepare", "undo lock"]);
        assert_eq!(titles(&phases[1].work, 0), ["switch"]);
        assert_eq!(titles(&phases[1].work, 1), ["switch", "restart"]);
        assert!(phases.iter().all(|phase| !phase.joins_previous));
    }

    #[test]
    fn barriers_that_guarantees_rest_on_stay() {
        let mut migrate = phase("migrate", &[0], StepKind::Migrate).joining();
        migrate.scope = Scope::Once { role: "web".to_owned() };
        let mut batches = phase("rollout", &[0, 1], StepKind::Switch).joining();
        batches.concurrency = Concurrency::Batches { size: 1 };
        let mut choose = phase("choose", &[0, 1], StepKind::ChooseRollbackTarget);
        choose.derives = Some(crate::protocol::captured::Derivation::RollbackTarget { to: None });
        let phases = fuse(vec![
            phase("prepare", &[0, 1], StepKind::PrepareRelease),
            migrate,
            batches,
            phase("hook", &[0, 1], StepKind::Hook).joining(),
            phase("after hook", &[0, 1], StepKind::Restart).joining(),
            choose,
            phase("uses what choose derived", &[0, 1], StepKind::Switch).joining(),
        ]);
        assert_eq!(phases.len(), 7, "{:?}", phases.iter().map(|phase| &phase.name).collect::<Vec<_>>());
    }
}
