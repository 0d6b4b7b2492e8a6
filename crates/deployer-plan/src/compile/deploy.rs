//! The phases deploys are made of: the lock, prepare, migrate, maintenance,
//! switch undo and finish, plus the history entries they record.

use super::context::template_role;
use super::{Compiler, MAINTENANCE_ROLE, ReleaseInfo, for_host};
use crate::error::PlanError;
use crate::model::{Concurrency, HostWork, Phase, Scope, Step};
use crate::protocol::history::{Entry, EventKind};
use crate::protocol::lock_owner::LockOwner;
use crate::script::Script;
use crate::steps::{MaintenancePages, ReleaseRef, StepBuilder};
use crate::templates::Templates;
use deployer_config::{FetchStrategy, HookPoint, TargetHost};

impl Compiler<'_> {
    pub(super) fn deploy_full(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        phases.push(self.lock()?);
        self.deploy_full_locked(phases)
    }

    /// `deploy_full` after its lock.
    pub(super) fn deploy_full_locked(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        let release = self.release()?;
        let pages = self.pages("deploy_full").ok();
        phases.extend(self.hook_phases(HookPoint::BeforeDeploy, release)?);
        phases.extend(self.hook_phases(HookPoint::BeforePrepare, release)?);
        phases.extend(self.fetch(release)?);
        phases.push(self.prepare(release)?);
        phases.extend(self.hook_phases(HookPoint::AfterPrepare, release)?);
        let migrate = self.migrate(release)?;
        // The maintenance page is up exactly during the migration window.
        let maintenance = match (&pages, &migrate) {
            (Some(pages), Some(_)) => {
                let on =
                    self.maintenance_phase("maintenance_on", |steps| Ok(steps.maintenance_on(pages, true)), false)?;
                on.map(|mut on| {
                    on.undo = on
                        .work
                        .iter()
                        .map(|work| HostWork { host: work.host, steps: vec![self.steps.maintenance_off(pages)] })
                        .collect();
                    on
                })
            }
            _ => None,
        };
        let has_maintenance = maintenance.is_some();
        phases.extend(maintenance);
        let migrates = migrate.is_some();
        if migrates {
            phases.extend(self.hook_phases(HookPoint::BeforeMigrate, release)?);
        }
        phases.extend(migrate);
        if migrates {
            phases.extend(self.hook_phases(HookPoint::AfterMigrate, release)?);
        }
        phases.extend(self.hook_phases(HookPoint::BeforeSwitch, release)?);
        let step = self.steps.switch(&ReleaseRef::Id(release.id.clone()));
        let mut switch = self.phase_all("switch", "switch `current` to the new release on every host", |_, host| {
            self.armed(host, release, vec![step.clone()])
        })?;
        switch.undo = self.deploy_switch_undo(release);
        phases.push(switch);
        phases.extend(self.hook_phases(HookPoint::AfterSwitch, release)?);
        phases.extend(self.hook_phases(HookPoint::BeforeRestart, release)?);
        phases.extend(self.restart_phase()?);
        phases.extend(self.hook_phases(HookPoint::AfterRestart, release)?);
        phases.extend(self.healthcheck_phase()?);
        if let (true, Some(pages)) = (has_maintenance, &pages) {
            phases.extend(self.maintenance_phase(
                "maintenance_off",
                |steps| Ok(steps.maintenance_off(pages)),
                false,
            )?);
        }
        phases.push(self.finish(release)?);
        Ok(())
    }

    /// The lock on every host, the first host leading: no other host starts until
    /// the first host's lock is taken. Two runs started at the same moment both
    /// try the first host first, so exactly one wins and the other stops having
    /// changed nothing; taking every host at once could leave each run holding
    /// part of the fleet and both failing. The work that follows the lock joins
    /// this phase (`fuse`), so the wait costs the other hosts no round trip.
    pub(super) fn lock(&self) -> Result<Phase, PlanError> {
        let invocation = &self.input.invocation;
        let owner = LockOwner {
            id: invocation.deploy_id.clone(),
            user: invocation.local_user.clone(),
            controller: invocation.controller.clone(),
            pid: Some(invocation.pid),
            command: self.input.command.name().to_owned(),
            started: invocation.started_at.clone(),
        };
        // Steps that are the same on every host are built once and cloned.
        let lock = self.steps.lock(&owner);
        let unlock = self.steps.unlock(&invocation.deploy_id);
        let mut phase =
            self.phase_all("lock", "take the environment lock on every host", |_, _| Ok(vec![lock.clone()]))?;
        phase.undo = self.for_all(|_| vec![unlock.clone()]);
        if phase.work.len() > 1 {
            "take the environment lock on every host, the first host first (a second run stops there)"
                .clone_into(&mut phase.description);
            phase.leads = true;
        }
        Ok(phase)
    }

    /// The `fetch` phase, before the prepare, with a pool of its own: with the
    /// `push` strategy, the controller's archive of the release goes to each host
    /// (the hosts never talk to the git server); with `execution.fetch_concurrency`,
    /// hosts fetch into their mirrors that many at a time, so the git server is
    /// never stormed. Neither: no phase, the prepare fetches.
    pub(super) fn fetch(&self, release: &ReleaseInfo) -> Result<Option<Phase>, PlanError> {
        let push = self.config.execution.fetch_strategy == FetchStrategy::Push;
        let limit = self.config.execution.fetch_concurrency;
        if !push && limit.is_none() {
            return Ok(None);
        }
        let (id, commit) = (&release.id, &release.revision.commit);
        let (step, description) = if push {
            (
                self.steps.receive_archive(
                    commit,
                    id,
                    (self.config.execution.push_compression, self.config.execution.hardlink_releases),
                ),
                "send this machine's archive of the release to every host",
            )
        } else {
            (self.steps.fetch(&self.config.repo, commit), "fetch the commit into each host's mirror")
        };
        let resumed = self.already_prepared();
        let Some(mut phase) = self.phase_some("fetch", description, |host| {
            // A resume fetches nothing where the release is already complete.
            let done = resumed.is_some_and(|prepared| prepared.contains(&host.to_string()));
            Ok(if done { Vec::new() } else { vec![step.clone()] })
        })?
        else {
            return Ok(None);
        };
        if let Some(limit) = limit {
            phase.concurrency = Concurrency::Pool { size: limit };
        }
        phase.joins_previous = true;
        if push {
            let discard = self.steps.discard_archive(id);
            phase.undo =
                phase.work.iter().map(|work| HostWork { host: work.host, steps: vec![discard.clone()] }).collect();
        }
        Ok(Some(phase))
    }

    pub(super) fn prepare(&self, release: &ReleaseInfo) -> Result<Phase, PlanError> {
        let templates = Templates::new(
            self.input.sources,
            self.config.templates.iter().map(|spec| spec.src.as_str()),
            &self.config.secrets.names,
        )?;
        let (dirs, files) = self.shared();
        let id = &release.id;
        let commit = &release.revision.commit;
        let resumed = self.already_prepared();
        let fetch = match self.config.execution.fetch_strategy {
            FetchStrategy::Git => self.steps.prepare_release(
                &self.config.repo,
                commit,
                id,
                (resumed.is_some(), self.config.execution.hardlink_releases),
            ),
            FetchStrategy::Push => self.steps.prepare_pushed(
                commit,
                id,
                (resumed.is_some(), self.config.execution.hardlink_releases),
                self.config.execution.push_compression,
            ),
        };
        let verify = self.steps.verify_prepared(id);
        let link = self.steps.link_shared(id, &dirs, &files);
        let complete = self.steps.mark_complete(
            id,
            self.history_entry(EventKind::Prepared, Some(release)).to_line(),
            self.config.execution.hardlink_releases,
        );
        let builds = self
            .by_role(|role| (!role.build.is_empty()).then(|| self.steps.build(id, commit, &role.name, &role.build)));
        // Every undefined name in every template, for every role it renders for, in
        // one error, before anything is rendered.
        let mut problems = Vec::new();
        for spec in &self.config.templates {
            let mut roles_seen = Vec::new();
            for (index, host) in self.active_hosts() {
                let Some(role) = template_role(&spec.roles, host) else { continue };
                if roles_seen.contains(&role) {
                    continue;
                }
                roles_seen.push(role);
                for problem in
                    templates.undefined(spec.src.as_str(), &self.template_context(index, host, role, release))
                {
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(PlanError::Templates { problems });
        }
        let mut phase =
            self.phase_all("prepare", "build the new release on every host; nothing is live yet", |index, host| {
                // A resume does no work again where the release is complete.
                if resumed.is_some_and(|prepared| prepared.contains(&host.to_string())) {
                    return Ok(vec![verify.clone()]);
                }
                let mut steps = vec![fetch.clone()];
                steps.extend(link.clone());
                for spec in &self.config.templates {
                    let Some(role) = template_role(&spec.roles, host) else { continue };
                    let variables = self.template_context(index, host, role, release);
                    let content = templates.render(spec.src.as_str(), &variables)?;
                    // A file holding a secret is for its owner only unless the mode says otherwise.
                    let default_mode = if content.secret_names().is_empty() { 0o644 } else { 0o600 };
                    let mode = spec.mode.unwrap_or(default_mode);
                    steps.push(self.steps.render_template(id, spec.dest.as_str(), content, mode)?);
                }
                steps.extend(for_host(&builds, host));
                steps.push(complete.clone());
                Ok(steps)
            })?;
        let remove = self.steps.remove_release(id);
        phase.undo = self.for_all(|_| vec![remove.clone()]);
        // Each host prepares right after taking its lock: nothing needs every
        // host's lock first (a host whose lock is held fails the run, and undo
        // removes what the others prepared).
        phase.joins_previous = true;
        Ok(phase)
    }

    pub(super) fn migrate(&self, release: &ReleaseInfo) -> Result<Option<Phase>, PlanError> {
        let Some(migrate) = &self.config.migrate else { return Ok(None) };
        if self.input.command == crate::input::CommandSpec::CreateImage {
            // An image builder never touches the database: the deploy that
            // rolls the image out migrates, once.
            return Ok(None);
        }
        let (host, _) = self
            .active_hosts()
            .find(|(_, host)| host.roles.contains(&migrate.role))
            .ok_or_else(|| PlanError::NoHostForRole { role: migrate.role.clone(), purpose: "migrate" })?;
        let step = self.steps.migrate(&release.id, &release.revision.commit, &migrate.command);
        Ok(Some(Phase::new(
            "migrate",
            &format!("run the migrations once, on one `{}` host", migrate.role),
            Scope::Once { role: migrate.role.clone() },
            Concurrency::Pool { size: 1 },
            vec![HostWork { host, steps: vec![step] }],
        )))
    }

    /// The seconds of the dead-man's switch, when `auto_revert_after` arms one.
    pub(super) fn auto_revert(&self) -> Option<u32> {
        self.environment.auto_revert_after.or(self.config.auto_revert_after)
    }

    /// `steps` (which switch `host` to `release`), after arming the host's
    /// dead-man's switch when one is configured.
    pub(super) fn armed(
        &self,
        host: &TargetHost,
        release: &ReleaseInfo,
        steps: Vec<Step>,
    ) -> Result<Vec<Step>, PlanError> {
        let Some(seconds) = self.auto_revert() else { return Ok(steps) };
        let release_ref = ReleaseRef::Id(release.id.clone());
        let mut body = self.steps.switch_back(&release_ref).script;
        for restart in self.restart_steps(host) {
            body.extend(restart.script);
        }
        body.extend(self.steps.unlock(&self.input.invocation.deploy_id).script);
        if !body.secret_names().is_empty() {
            return Err(PlanError::Unsafe(
                "`auto_revert_after`: restart commands that use secrets cannot be left armed on a host".to_owned(),
            ));
        }
        let mut armed = vec![self.steps.arm_revert(seconds, body)];
        armed.extend(steps);
        Ok(armed)
    }

    /// Undo of a deploy's switch: disarm the dead-man's switch first, when armed;
    /// then record that this attempt went live and was switched back, so `resume`
    /// never offers to continue it.
    pub(super) fn deploy_switch_undo(&self, release: &ReleaseInfo) -> Vec<HostWork> {
        let mut undo = self.switch_undo(&ReleaseRef::Id(release.id.clone()));
        let disarm = self.auto_revert().map(|_| self.steps.disarm_revert(false));
        let entry = Script::text(self.history_entry(EventKind::SwitchedBack, Some(release)).to_line());
        let record = self.steps.record_history("record the switch back in the history", entry);
        for work in &mut undo {
            if let Some(disarm) = &disarm {
                work.steps.insert(0, disarm.clone());
            }
            work.steps.push(record.clone());
        }
        undo
    }

    pub(super) fn finish(&self, release: &ReleaseInfo) -> Result<Phase, PlanError> {
        let entry = Script::text(self.history_entry(EventKind::Deployed, Some(release)).to_line());
        // Confirmation first: a host whose switch already fired fails here, so the
        // deploy is not recorded as done on it.
        let confirm = self.auto_revert().map(|_| self.steps.disarm_revert(true));
        let steps: Vec<Step> = confirm
            .into_iter()
            .chain([
                self.steps.record_history("record the deploy in the history", entry),
                self.steps.prune(self.config.keep_releases, &release.id),
                self.steps.unlock(&self.input.invocation.deploy_id),
            ])
            .collect();
        self.phase_all("finish", "record the deploy, prune old releases, release the lock", |_, _| Ok(steps.clone()))
    }

    /// Restarts services on each host right after its switch (no barrier: a
    /// host that fails makes the run switch every host back).
    pub(super) fn restart_phase(&self) -> Result<Option<Phase>, PlanError> {
        let phase = self.phase_some("restart", "restart services", |host| Ok(self.restart_steps(host)))?;
        Ok(phase.map(Phase::joining))
    }

    /// Checks each host's health right after its restart.
    pub(super) fn healthcheck_phase(&self) -> Result<Option<Phase>, PlanError> {
        let phase =
            self.phase_some("healthcheck", "check every host is healthy", |host| Ok(self.health_steps(host)))?;
        Ok(phase.map(Phase::joining))
    }

    pub(super) fn switch_undo(&self, release: &ReleaseRef) -> Vec<HostWork> {
        let back = self.steps.switch_back(release);
        self.for_all(|host| {
            let mut steps = vec![back.clone()];
            steps.extend(self.restart_steps(host));
            steps
        })
    }

    pub(super) fn pages(&self, command: &'static str) -> Result<MaintenancePages, PlanError> {
        let settings = &self.config.static_html;
        let upgrade = settings
            .upgrade_message
            .as_ref()
            .ok_or(PlanError::NoMaintenancePage { key: "upgrade_message", command })?;
        let load = |path: &camino::Utf8PathBuf| {
            self.input.sources.get(path).cloned().ok_or_else(|| PlanError::MissingSource { path: path.to_string() })
        };
        Ok(MaintenancePages {
            upgrade_message: load(upgrade)?,
            healthcheck_override: settings.healthcheck_override.as_ref().map(load).transpose()?,
            settings: settings.clone(),
        })
    }

    /// A maintenance phase on the targeted web hosts. `required`: fail when there
    /// are none (`begin/end_upgrade`) rather than skip (`deploy_full`).
    pub(super) fn maintenance_phase(
        &self,
        name: &str,
        step: impl Fn(&StepBuilder<'_>) -> Result<Step, PlanError>,
        required: bool,
    ) -> Result<Option<Phase>, PlanError> {
        let description =
            if name == "maintenance_on" { "put up the maintenance page" } else { "take down the maintenance page" };
        let mut work = Vec::new();
        for (index, host) in self.active_hosts() {
            if host.roles.iter().any(|role| role == MAINTENANCE_ROLE) {
                work.push(HostWork { host: index, steps: vec![step(&self.steps)?] });
            }
        }
        if work.is_empty() {
            return if required {
                Err(PlanError::NoHostForRole { role: MAINTENANCE_ROLE.to_owned(), purpose: "the maintenance page" })
            } else {
                Ok(None)
            };
        }
        Ok(Some(Phase::new(
            name,
            description,
            Scope::Role { role: MAINTENANCE_ROLE.to_owned() },
            self.pool(work.len()),
            work,
        )))
    }

    /// This run's history entry; a rollback's release is known only on the hosts.
    pub(super) fn history_entry(&self, event: EventKind, release: Option<&ReleaseInfo>) -> Entry {
        let invocation = &self.input.invocation;
        Entry {
            event,
            release: release.map(|release| release.id.clone()).unwrap_or_default(),
            commit: release.map(|release| release.revision.commit.clone()),
            deploy_id: Some(invocation.deploy_id.clone()),
            at: Some(invocation.started_at.clone()),
            user: Some(invocation.local_user.clone()),
            migrations: Some(event != EventKind::RolledBack && self.config.migrate.is_some()),
            command: release.map(|_| self.input.command.shipping().name().to_owned()),
        }
    }
}
