//! The phase order of each command.

use super::Compiler;
use super::ids::check_release_id;
use crate::error::PlanError;
use crate::input::CommandSpec;
use crate::model::{Concurrency, Phase, StepKind, WaveGate};
use crate::protocol::captured::{Captured, Derivation};
use crate::protocol::history::EventKind;
use crate::script::Script;
use crate::steps::ReleaseRef;
use deployer_config::HookPoint;

/// No wave may take out more hosts than `min_healthy` leaves: the hosts outside a
/// wave stay in service while it switches.
fn check_min_healthy(plan: &deployer_config::Rollout, sizes: &[usize], total: usize) -> Result<(), PlanError> {
    let Some(minimum) = plan.min_healthy else { return Ok(()) };
    let minimum = minimum.of(total);
    for (number, &size) in sizes.iter().enumerate() {
        if total - size < minimum {
            return Err(PlanError::Unsafe(format!(
                "wave {} takes {size} of {total} hosts out of service at once; `min_healthy` keeps {minimum} in service, \
                 so a wave may take at most {}: add waves",
                number + 1,
                total - minimum
            )));
        }
    }
    Ok(())
}

impl Compiler<'_> {
    pub(super) fn phases(&self) -> Result<Vec<Phase>, PlanError> {
        let mut phases = Vec::new();
        let group_deploy = matches!(
            self.input.command,
            CommandSpec::DeployFull | CommandSpec::DeploySerial { .. } | CommandSpec::Rollback { .. }
        ) && !self.group_slots().is_empty();
        let launches =
            matches!(self.input.command, CommandSpec::CreateEnvironment | CommandSpec::CreateImage) || group_deploy;
        if !launches && !self.launch_slots().is_empty() {
            return Err(PlanError::Unsafe(format!(
                "only create_environment and create_image launch servers, not `{}`",
                self.input.command.name()
            )));
        }
        match &self.input.command {
            CommandSpec::DeployFull if !self.group_slots().is_empty() => self.deploy_full_group(&mut phases)?,
            CommandSpec::DeployFull => self.deploy_full(&mut phases)?,
            CommandSpec::CreateEnvironment => self.create_environment(&mut phases)?,
            CommandSpec::CreateImage => self.create_image(&mut phases)?,
            CommandSpec::Recover => self.recover(&mut phases)?,
            CommandSpec::DeploySerial { batch_size, .. } if !self.group_slots().is_empty() => {
                self.deploy_serial_group(&mut phases, *batch_size)?;
            }
            CommandSpec::DeploySerial { batch_size, waves } => {
                self.deploy_serial(&mut phases, *batch_size, waves.as_ref())?;
            }
            CommandSpec::Rollback { to } if !self.group_slots().is_empty() => {
                self.rollback_group(&mut phases, to.as_deref())?;
            }
            CommandSpec::Rollback { to } => self.rollback(&mut phases, to.as_deref())?,
            CommandSpec::BeginUpgrade { stay_healthy } => {
                let pages = self.pages("begin_upgrade")?;
                if *stay_healthy && pages.healthcheck_override.is_none() {
                    return Err(PlanError::NoMaintenancePage { key: "healthcheck_override", command: "begin_upgrade" });
                }
                let on = self.maintenance_phase(
                    "maintenance_on",
                    |steps| Ok(steps.maintenance_on(&pages, *stay_healthy)),
                    true,
                )?;
                self.locked(&mut phases, on)?;
            }
            CommandSpec::EndUpgrade => {
                let pages = self.pages("end_upgrade")?;
                let off = self.maintenance_phase("maintenance_off", |steps| Ok(steps.maintenance_off(&pages)), true)?;
                self.locked(&mut phases, off)?;
            }
            CommandSpec::UpdateServerPasswords => {
                if self.config.secrets.names.is_empty() {
                    return Err(PlanError::Unsafe("no secrets are declared (`password_names`)".to_owned()));
                }
                let secrets = self.secrets_phase()?;
                self.locked(&mut phases, Some(secrets))?;
            }
            CommandSpec::Status => {
                let report = self.steps.report_state(
                    StepKind::ReadStatus,
                    "read releases, history and lock",
                    &self.config.static_html,
                );
                phases.push(
                    self.phase_all("status", "read every host's releases and lock", |_, _| Ok(vec![report.clone()]))?,
                );
            }
            CommandSpec::LockRelease { id } => {
                if id.is_empty() || id.contains(['\n', '\0']) {
                    return Err(PlanError::Unsafe("the lock id is empty or contains a newline".to_owned()));
                }
                phases.push(self.phase_all("unlock", "release the lock held by this id", |_, _| {
                    Ok(vec![self.steps.release_lock(id)])
                })?);
            }
            CommandSpec::Task { name } => self.task(&mut phases, name)?,
            CommandSpec::SuspendProcesses { processes } => self.scaling_processes(&mut phases, true, processes)?,
            CommandSpec::ResumeProcesses { processes } => self.scaling_processes(&mut phases, false, processes)?,
            CommandSpec::Resume { command, .. } => match &**command {
                CommandSpec::DeployFull | CommandSpec::CreateEnvironment | CommandSpec::CreateImage => {
                    self.deploy_full(&mut phases)?;
                }
                CommandSpec::DeploySerial { batch_size, waves } => {
                    self.deploy_serial(&mut phases, *batch_size, waves.as_ref())?;
                }
                other => {
                    return Err(PlanError::Unsafe(format!(
                        "`{}` ships no release, so it cannot be resumed",
                        other.name()
                    )));
                }
            },
            CommandSpec::Run { command } => {
                if command.trim().is_empty() || command.contains('\0') {
                    return Err(PlanError::Unsafe("the command is empty or contains a NUL byte".to_owned()));
                }
                phases.push(
                    self.phase_all("run", "run the command on every host", |_, _| {
                        Ok(vec![self.steps.command(command)])
                    })?,
                );
            }
        }
        Ok(phases)
    }

    /// `work` under the environment lock, like a deploy: a second run stops before
    /// changing anything, and the lock is released at the end.
    fn locked(&self, phases: &mut Vec<Phase>, work: Option<Phase>) -> Result<(), PlanError> {
        phases.push(self.lock()?);
        phases.extend(work.map(Phase::joining));
        let unlock = self.steps.unlock(&self.input.invocation.deploy_id);
        phases.push(self.phase_all("unlock", "release the environment lock", |_, _| Ok(vec![unlock.clone()]))?);
        Ok(())
    }

    fn secrets_phase(&self) -> Result<Phase, PlanError> {
        let upload = self.steps.upload_secrets(&self.config.secrets.names);
        self.phase_all("secrets", "upload the environment's secrets", |_, _| Ok(vec![upload.clone()]))
    }

    fn create_environment(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        let slots = self.launch_slots();
        if !slots.is_empty() {
            phases.extend(self.launch_phases(&slots, "PENDING")?);
        }
        // The lock first: a second run stops before touching anything, and the
        // set-up and the prepare follow in the same script on each host.
        phases.push(self.lock()?);
        self.set_up(phases)?;
        self.deploy_full_locked(phases)?;
        if !slots.is_empty() {
            phases.push(self.retag_phase(&slots));
        }
        Ok(())
    }

    /// What a new server needs before its first deploy: reachable, the layout,
    /// each role's setup commands, the secrets.
    pub(super) fn set_up(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        phases.push(
            self.phase_all("check", "check every host is reachable", |_, _| Ok(vec![self.steps.check_connection()]))?
                .joining(),
        );
        let (dirs, files) = self.shared();
        phases.push(
            self.phase_all("layout", "create the directory layout", |_, _| {
                Ok(vec![self.steps.create_layout(&dirs, &files)])
            })?
            .joining(),
        );
        // No phase when no role has setup commands: it would run nothing anywhere.
        phases.extend(
            self.phase_some("setup", "run each role's setup commands", |host| {
                Ok(self
                    .per_role(host, |role| (!role.setup.is_empty()).then(|| self.steps.setup(&role.name, &role.setup))))
            })?
            .map(Phase::joining),
        );
        if !self.config.secrets.names.is_empty() {
            phases.push(self.secrets_phase()?.joining());
        }
        Ok(())
    }

    fn deploy_serial(
        &self,
        phases: &mut Vec<Phase>,
        batch_size: Option<u32>,
        waves: Option<&Vec<deployer_config::WaveSize>>,
    ) -> Result<(), PlanError> {
        let release = self.release()?;
        phases.push(self.lock()?);
        phases.extend(self.hook_phases(HookPoint::BeforeDeploy, release)?);
        phases.extend(self.hook_phases(HookPoint::BeforePrepare, release)?);
        phases.extend(self.fetch(release)?);
        phases.push(self.prepare(release)?);
        phases.extend(self.hook_phases(HookPoint::AfterPrepare, release)?);
        if let Some(migrate) = self.migrate(release)? {
            phases.extend(self.hook_phases(HookPoint::BeforeMigrate, release)?);
            phases.push(migrate);
            phases.extend(self.hook_phases(HookPoint::AfterMigrate, release)?);
        }
        // Waves switch and restart together: the switch and restart hooks run
        // around the whole rollout.
        phases.extend(self.hook_phases(HookPoint::BeforeSwitch, release)?);
        phases.extend(self.hook_phases(HookPoint::BeforeRestart, release)?);
        let switch = self.steps.switch(&ReleaseRef::Id(release.id.clone()));
        let configured = self.config.rollout_for(self.environment);
        let from_flag = waves.map(|waves| deployer_config::Rollout::with_waves(configured, waves.clone()));
        let waves = match (batch_size, &from_flag) {
            (Some(_), _) => None,
            (None, Some(flag)) => Some(flag),
            (None, None) => configured,
        };
        let drain = waves.and_then(|plan| plan.drain.as_deref()).map(|command| self.steps.drain(false, command));
        let undrain = waves.and_then(|plan| plan.undrain.as_deref()).map(|command| self.steps.drain(true, command));
        let mut rollout = self.phase_all("rollout", "switch, restart and health-check batch by batch", |_, host| {
            let mut steps: Vec<_> = drain.iter().cloned().collect();
            steps.extend(self.armed(host, release, vec![switch.clone()])?);
            steps.extend(self.restart_steps(host));
            steps.extend(self.health_steps(host));
            steps.extend(undrain.iter().cloned());
            Ok(steps)
        })?;
        // `--batch-size` on the command line wins; else the file's `rollout:` waves;
        // else batches of `execution.batch_size`.
        match (batch_size, waves) {
            (None, Some(plan)) => {
                let sizes = self.order_named_waves(plan, &mut rollout)?;
                check_min_healthy(plan, &sizes, rollout.work.len())?;
                // The first wave's hosts are armed until the whole rollout confirms:
                // bakes alone must not outlast their dead-man's switch.
                let baking = u64::from(plan.bake) * (sizes.len().saturating_sub(1) as u64);
                if let Some(window) = self.auto_revert()
                    && baking >= u64::from(window)
                {
                    return Err(PlanError::Unsafe(format!(
                        "the rollout bakes {baking}s in all, but `auto_revert_after` reverts unconfirmed hosts after \
                         {window}s: raise it above the whole rollout"
                    )));
                }
                "switch, restart and health-check wave by wave".clone_into(&mut rollout.description);
                rollout.concurrency = Concurrency::Waves {
                    sizes: sizes.iter().map(|&size| u32::try_from(size).unwrap_or(u32::MAX)).collect(),
                };
                rollout.between_waves =
                    Some(WaveGate { bake: plan.bake, command: plan.gate.clone(), timeout: plan.gate_timeout });
            }
            (size, _) => {
                rollout.concurrency =
                    Concurrency::Batches { size: size.unwrap_or(self.config.execution.batch_size).max(1) };
            }
        }
        rollout.traffic = self.traffic(&rollout)?;
        rollout.undo = self.deploy_switch_undo(release);
        // A host switched back goes back into service too.
        for work in &mut rollout.undo {
            work.steps.extend(undrain.iter().cloned());
        }
        phases.push(rollout);
        phases.extend(self.hook_phases(HookPoint::AfterSwitch, release)?);
        phases.extend(self.hook_phases(HookPoint::AfterRestart, release)?);
        phases.push(self.finish(release)?);
        Ok(())
    }

    /// Puts the rollout's named hosts first (the canary, then each group in
    /// order), keeping the host order otherwise, and gives the wave sizes. A named
    /// host this run does not target is refused: a canary silently missing would
    /// make the first wave something nobody chose.
    fn order_named_waves(&self, plan: &deployer_config::Rollout, rollout: &mut Phase) -> Result<Vec<usize>, PlanError> {
        let total = rollout.work.len();
        if plan.canary.is_empty() && plan.groups.is_empty() {
            return Ok(plan.wave_sizes(total));
        }
        let position_of = |name: &str| {
            rollout.work.iter().position(|work| {
                let host = &self.hosts[work.host];
                host.host == name || host.to_string() == name
            })
        };
        let mut ordered = Vec::new();
        let mut sizes = Vec::new();
        let lists = std::iter::once(("canary", &plan.canary))
            .chain(plan.groups.iter().map(|(name, hosts)| (name.as_str(), hosts)));
        for (wave, hosts) in lists {
            let before = ordered.len();
            for name in hosts {
                let position = position_of(name).ok_or_else(|| {
                    PlanError::Unsafe(format!(
                        "`rollout` names `{name}` (in `{wave}`), which this run does not target: fix the name, or \
                         choose the waves with `--waves` or `--batch-size`"
                    ))
                })?;
                if ordered.contains(&position) {
                    return Err(PlanError::Unsafe(format!("`rollout` names the host of `{name}` twice")));
                }
                ordered.push(position);
            }
            if ordered.len() > before {
                sizes.push(ordered.len() - before);
            }
        }
        let named = ordered.len();
        let rest: Vec<usize> = (0..total).filter(|position| !ordered.contains(position)).collect();
        ordered.extend(rest);
        let work = std::mem::take(&mut rollout.work);
        rollout.work = ordered.iter().map(|&position| work[position].clone()).collect();
        if plan.groups.is_empty() {
            sizes.extend(plan.wave_sizes_after(named, total));
        } else if named < total {
            sizes.push(total - named);
        }
        Ok(sizes)
    }

    fn rollback(&self, phases: &mut Vec<Phase>, to: Option<&str>) -> Result<(), PlanError> {
        if let Some(id) = to {
            check_release_id(id)?;
        }
        phases.push(self.lock()?);
        phases.extend(self.rollback_switch(to)?);
        phases.push(self.rollback_finish()?);
        Ok(())
    }

    /// A rollback on the active hosts: choose the target from their reports
    /// (`to`, else the previous release), switch, restart, check.
    pub(super) fn rollback_switch(&self, to: Option<&str>) -> Result<Vec<Phase>, PlanError> {
        let mut phases = Vec::new();
        let report = self.steps.report_state(
            StepKind::ChooseRollbackTarget,
            "report releases and history",
            &self.config.static_html,
        );
        let mut choose = self
            .phase_all("choose", "find the release to roll back to on every host", |_, _| Ok(vec![report.clone()]))?;
        choose.derives = Some(Derivation::RollbackTarget { to: to.map(str::to_owned) });
        // Each host reports right after taking its lock.
        choose.joins_previous = true;
        phases.push(choose);
        let target = ReleaseRef::Captured(Captured::RollbackTarget);
        let step = self.steps.switch(&target);
        let mut switch =
            self.phase_all("switch", "switch every host to the rollback target", |_, _| Ok(vec![step.clone()]))?;
        switch.undo = self.switch_undo(&target);
        phases.push(switch);
        phases.extend(self.restart_phase()?);
        phases.extend(self.healthcheck_phase()?);
        Ok(phases)
    }

    /// Records the rollback in the active hosts' history and releases their lock.
    pub(super) fn rollback_finish(&self) -> Result<Phase, PlanError> {
        let mut entry = Script::text(self.history_entry(EventKind::RolledBack, None).line_before_release());
        entry.push_variable(Captured::RollbackTarget);
        let steps = vec![
            self.steps.record_history("record the rollback in the history", entry),
            self.steps.unlock(&self.input.invocation.deploy_id),
        ];
        self.phase_all("finish", "record the rollback and release the lock", |_, _| Ok(steps.clone()))
    }
}
