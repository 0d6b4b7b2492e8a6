//! Command → phases. Each command's phase order is spelled out in one function.

use deployer_config::{Config, Environment, TargetHost};
use minijinja::Value;
use minijinja::value::Serde;

use crate::error::PlanError;
use crate::input::{CommandSpec, PlanInput};
use crate::layout::Layout;
use crate::model::{Concurrency, HostWork, Phase, Plan, PlanHost, Revision, Scope, Step, StepKind};
use crate::protocol::captured::{Captured, Derivation};
use crate::protocol::history::{Entry, EventKind};
use crate::protocol::lock_owner::LockOwner;
use crate::script::Script;
use crate::steps::{MaintenancePages, ReleaseRef, StepBuilder, short};
use crate::templates::{Templates, secrets_value};

/// The role whose hosts serve the maintenance page (FabulAWS's `@roles(web)`).
const MAINTENANCE_ROLE: &str = "web";

/// Compiles `input` into a plan. Pure: the same input gives the same plan.
pub fn compile(input: &PlanInput<'_>) -> Result<Plan, PlanError> {
    let config = input.config;
    let environment = config.environment(input.environment)?;
    if input.hosts.is_empty() {
        return Err(PlanError::NoHosts { environment: environment.name.clone() });
    }
    check_stamp(&input.invocation.stamp)?;
    let release = match (&input.revision, input.command.ships_a_release()) {
        (Some(revision), true) => {
            check_commit(&revision.commit)?;
            Some(ReleaseInfo {
                id: format!("{}-{}", input.invocation.stamp, short(&revision.commit)),
                revision: revision.clone(),
            })
        }
        (None, true) => return Err(PlanError::NoRevision { command: input.command.name().to_owned() }),
        (_, false) => None,
    };
    let layout = Layout::new(&environment.deploy_root);
    let mut compiler = Compiler {
        restarts: Vec::new(),
        health_checks: Vec::new(),
        input,
        config,
        environment,
        hosts: input.hosts,
        steps: StepBuilder {
            layout: &layout,
            timeout: config.execution.command_timeout,
            environment: &environment.name,
        },
        release: release.as_ref(),
    };
    compiler.restarts =
        compiler.by_role(|role| (!role.restart.is_empty()).then(|| compiler.steps.restart(&role.name, &role.restart)));
    compiler.health_checks =
        compiler.by_role(|role| role.healthcheck.as_ref().map(|check| compiler.steps.health_check(&role.name, check)));
    let phases = compiler.phases()?;
    let command = input.command.name();
    Ok(Plan {
        command: command.to_owned(),
        project: config.project.clone(),
        deployment: input.deployment.to_owned(),
        environment: environment.name.clone(),
        deploy_id: input.invocation.deploy_id.clone(),
        revision: release.as_ref().map(|release| release.revision.clone()),
        release_id: release.as_ref().map(|release| release.id.clone()),
        deploy_root: environment.deploy_root.to_string(),
        confirmation: environment
            .production
            .then(|| format!("run `{command}` on production environment `{}`?", environment.name)),
        hosts: input.hosts.iter().map(plan_host).collect(),
        phases,
    })
}

struct ReleaseInfo {
    id: String,
    revision: Revision,
}

/// role → a step that is the same on every host of the role.
type RoleSteps = Vec<(String, Step)>;

/// The steps of `steps` for the roles `host` plays, in the host's role order.
fn for_host(steps: &RoleSteps, host: &TargetHost) -> Vec<Step> {
    host.roles
        .iter()
        .flat_map(|role| steps.iter().filter(move |(name, _)| name == role).map(|(_, step)| step.clone()))
        .collect()
}

struct Compiler<'a> {
    restarts: RoleSteps,
    health_checks: RoleSteps,
    input: &'a PlanInput<'a>,
    config: &'a Config,
    environment: &'a Environment,
    hosts: &'a [TargetHost],
    steps: StepBuilder<'a>,
    release: Option<&'a ReleaseInfo>,
}

impl Compiler<'_> {
    fn phases(&self) -> Result<Vec<Phase>, PlanError> {
        let mut phases = Vec::new();
        match &self.input.command {
            CommandSpec::DeployFull => self.deploy_full(&mut phases)?,
            CommandSpec::CreateEnvironment => {
                phases.push(self.phase_all("check", "check every host is reachable", |_, _| {
                    Ok(vec![self.steps.check_connection()])
                })?);
                let (dirs, files) = self.shared();
                phases.push(self.phase_all("layout", "create the directory layout", |_, _| {
                    Ok(vec![self.steps.create_layout(&dirs, &files)])
                })?);
                phases.push(self.phase_all("setup", "run each role's setup commands", |_, host| {
                    Ok(self.per_role(host, |role| {
                        (!role.setup.is_empty()).then(|| self.steps.setup(&role.name, &role.setup))
                    }))
                })?);
                if !self.config.secrets.names.is_empty() {
                    phases.push(self.phase_all("secrets", "upload the environment's secrets", |_, _| {
                        Ok(vec![self.steps.upload_secrets(&self.config.secrets.names)])
                    })?);
                }
                self.deploy_full(&mut phases)?;
            }
            CommandSpec::DeploySerial { batch_size } => {
                let release = self.release()?;
                phases.extend(self.locks()?);
                phases.push(self.prepare(release)?);
                phases.extend(self.migrate(release)?);
                let size = batch_size.unwrap_or(self.config.execution.batch_size).max(1);
                let switch = self.steps.switch(&ReleaseRef::Id(release.id.clone()));
                let mut rollout =
                    self.phase_all("rollout", "switch, restart and health-check batch by batch", |_, host| {
                        let mut steps = vec![switch.clone()];
                        steps.extend(self.restart_steps(host));
                        steps.extend(self.health_steps(host));
                        Ok(steps)
                    })?;
                rollout.concurrency = Concurrency::Batches { size };
                rollout.undo = self.switch_undo(&ReleaseRef::Id(release.id.clone()));
                phases.push(rollout);
                phases.push(self.finish(release)?);
            }
            CommandSpec::Rollback { to } => {
                if let Some(id) = to {
                    check_release_id(id)?;
                }
                phases.extend(self.locks()?);
                let report = self.steps.report_state(StepKind::ChooseRollbackTarget, "report releases and history");
                let mut choose =
                    self.phase_all("choose", "find the release to roll back to on every host", |_, _| {
                        Ok(vec![report.clone()])
                    })?;
                choose.derives = Some(Derivation::RollbackTarget { to: to.clone() });
                phases.push(choose);
                let target = ReleaseRef::Captured(Captured::RollbackTarget);
                let step = self.steps.switch(&target);
                let mut switch = self
                    .phase_all("switch", "switch every host to the rollback target", |_, _| Ok(vec![step.clone()]))?;
                switch.undo = self.switch_undo(&target);
                phases.push(switch);
                phases.extend(self.phase_some("restart", "restart services", |host| Ok(self.restart_steps(host)))?);
                phases.extend(
                    self.phase_some("healthcheck", "check every host is healthy", |host| Ok(self.health_steps(host)))?,
                );
                let mut entry = Script::text(self.history_entry(EventKind::RolledBack, None).line_before_release());
                entry.push_variable(Captured::RollbackTarget);
                let steps = vec![
                    self.steps.record_history("record the rollback in the history", entry),
                    self.steps.unlock(&self.input.invocation.deploy_id),
                ];
                phases.push(
                    self.phase_all("finish", "record the rollback and release the lock", |_, _| Ok(steps.clone()))?,
                );
            }
            CommandSpec::BeginUpgrade { stay_healthy } => {
                let pages = self.pages("begin_upgrade")?;
                if *stay_healthy && pages.healthcheck_override.is_none() {
                    return Err(PlanError::NoMaintenancePage { key: "healthcheck_override", command: "begin_upgrade" });
                }
                phases.extend(self.maintenance_phase(
                    "maintenance_on",
                    |steps| steps.maintenance_on(&pages, *stay_healthy),
                    true,
                )?);
            }
            CommandSpec::EndUpgrade => {
                let pages = self.pages("end_upgrade")?;
                phases.extend(self.maintenance_phase(
                    "maintenance_off",
                    |steps| Ok(steps.maintenance_off(&pages)),
                    true,
                )?);
            }
            CommandSpec::UpdateServerPasswords => {
                if self.config.secrets.names.is_empty() {
                    return Err(PlanError::Unsafe("no secrets are declared (`password_names`)".to_owned()));
                }
                phases.push(self.phase_all("secrets", "upload the environment's secrets", |_, _| {
                    Ok(vec![self.steps.upload_secrets(&self.config.secrets.names)])
                })?);
            }
            CommandSpec::Status => {
                let report = self.steps.report_state(StepKind::ReadStatus, "read releases, history and lock");
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

    fn deploy_full(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        let release = self.release()?;
        let pages = self.pages("deploy_full").ok();
        phases.extend(self.locks()?);
        phases.push(self.prepare(release)?);
        let migrate = self.migrate(release)?;
        // The maintenance page is up exactly during the migration window.
        let maintenance = match (&pages, &migrate) {
            (Some(pages), Some(_)) => {
                let on = self.maintenance_phase("maintenance_on", |steps| steps.maintenance_on(pages, true), false)?;
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
        phases.extend(migrate);
        let step = self.steps.switch(&ReleaseRef::Id(release.id.clone()));
        let mut switch = self
            .phase_all("switch", "switch `current` to the new release on every host", |_, _| Ok(vec![step.clone()]))?;
        switch.undo = self.switch_undo(&ReleaseRef::Id(release.id.clone()));
        phases.push(switch);
        phases.extend(self.phase_some("restart", "restart services", |host| Ok(self.restart_steps(host)))?);
        phases
            .extend(self.phase_some("healthcheck", "check every host is healthy", |host| Ok(self.health_steps(host)))?);
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

    fn release(&self) -> Result<&ReleaseInfo, PlanError> {
        self.release.ok_or_else(|| PlanError::NoRevision { command: self.input.command.name().to_owned() })
    }

    fn lock(&self) -> Result<Phase, PlanError> {
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
        Ok(phase)
    }

    /// The lock in two phases: the first host alone, then all the others. Two runs
    /// started at the same moment both try the first host first, so exactly one
    /// wins and the other stops having changed nothing; taking every host at once
    /// could leave each run holding part of the fleet and both failing.
    fn locks(&self) -> Result<Vec<Phase>, PlanError> {
        let all = self.lock()?;
        if self.hosts.len() < 2 {
            return Ok(vec![all]);
        }
        let (first_work, rest_work) = all.work.split_at(1);
        let (first_undo, rest_undo) = all.undo.split_at(1);
        let first = Phase {
            name: "lock".to_owned(),
            description: "take the environment lock on the first host (a second run stops here)".to_owned(),
            scope: Scope::All,
            concurrency: Concurrency::Pool { size: 1 },
            work: first_work.to_vec(),
            undo: first_undo.to_vec(),
            derives: None,
        };
        let rest = Phase {
            name: "lock_rest".to_owned(),
            description: "take the environment lock on every other host".to_owned(),
            work: rest_work.to_vec(),
            undo: rest_undo.to_vec(),
            ..all
        };
        Ok(vec![first, rest])
    }

    fn prepare(&self, release: &ReleaseInfo) -> Result<Phase, PlanError> {
        let templates = Templates::new(
            self.input.sources,
            self.config.templates.iter().map(|spec| spec.src.as_str()),
            &self.config.secrets.names,
        )?;
        let (dirs, files) = self.shared();
        let id = &release.id;
        let commit = &release.revision.commit;
        let fetch = self.steps.prepare_release(&self.config.repo, commit, id);
        let link = self.steps.link_shared(id, &dirs, &files);
        let complete = self.steps.mark_complete(id, self.history_entry(EventKind::Prepared, Some(release)).to_line());
        let builds = self
            .by_role(|role| (!role.build.is_empty()).then(|| self.steps.build(id, commit, &role.name, &role.build)));
        let mut phase =
            self.phase_all("prepare", "build the new release on every host; nothing is live yet", |index, host| {
                let mut steps = vec![fetch.clone()];
                steps.extend(link.clone());
                for spec in &self.config.templates {
                    let Some(role) = template_role(&spec.roles, host) else { continue };
                    let context = self.template_context(index, host, role, release);
                    let content = templates.render(spec.src.as_str(), &context)?;
                    steps.push(self.steps.render_template(id, spec.dest.as_str(), content, spec.mode)?);
                }
                steps.extend(for_host(&builds, host));
                steps.push(complete.clone());
                Ok(steps)
            })?;
        let remove = self.steps.remove_release(id);
        phase.undo = self.for_all(|_| vec![remove.clone()]);
        Ok(phase)
    }

    fn migrate(&self, release: &ReleaseInfo) -> Result<Option<Phase>, PlanError> {
        let Some(migrate) = &self.config.migrate else { return Ok(None) };
        let host = self
            .hosts
            .iter()
            .position(|host| host.roles.contains(&migrate.role))
            .ok_or_else(|| PlanError::NoHostForRole { role: migrate.role.clone(), purpose: "migrate" })?;
        let step = self.steps.migrate(&release.id, &release.revision.commit, &migrate.command);
        Ok(Some(Phase {
            name: "migrate".to_owned(),
            description: format!("run the migrations once, on one `{}` host", migrate.role),
            scope: Scope::Once { role: migrate.role.clone() },
            concurrency: Concurrency::Pool { size: 1 },
            work: vec![HostWork { host, steps: vec![step] }],
            undo: Vec::new(),
            derives: None,
        }))
    }

    fn finish(&self, release: &ReleaseInfo) -> Result<Phase, PlanError> {
        let entry = Script::text(self.history_entry(EventKind::Deployed, Some(release)).to_line());
        let steps = vec![
            self.steps.record_history("record the deploy in the history", entry),
            self.steps.prune(self.config.keep_releases, &release.id),
            self.steps.unlock(&self.input.invocation.deploy_id),
        ];
        self.phase_all("finish", "record the deploy, prune old releases, release the lock", |_, _| Ok(steps.clone()))
    }

    fn switch_undo(&self, release: &ReleaseRef) -> Vec<HostWork> {
        let back = self.steps.switch_back(release);
        self.for_all(|host| {
            let mut steps = vec![back.clone()];
            steps.extend(self.restart_steps(host));
            steps
        })
    }

    fn restart_steps(&self, host: &TargetHost) -> Vec<Step> {
        for_host(&self.restarts, host)
    }

    fn health_steps(&self, host: &TargetHost) -> Vec<Step> {
        for_host(&self.health_checks, host)
    }

    /// One step per role that has one, built once for all hosts of the role.
    fn by_role(&self, step: impl Fn(&deployer_config::Role) -> Option<Step>) -> RoleSteps {
        self.config.roles.values().filter_map(|role| step(role).map(|step| (role.name.clone(), step))).collect()
    }

    /// One step per role of the host, for the roles that have one.
    fn per_role(&self, host: &TargetHost, step: impl Fn(&deployer_config::Role) -> Option<Step>) -> Vec<Step> {
        host.roles.iter().filter_map(|name| self.config.roles.get(name)).filter_map(step).collect()
    }

    fn pages(&self, command: &'static str) -> Result<MaintenancePages, PlanError> {
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
    /// are none (begin/end_upgrade) rather than skip (deploy_full).
    fn maintenance_phase(
        &self,
        name: &str,
        step: impl Fn(&StepBuilder<'_>) -> Result<Step, PlanError>,
        required: bool,
    ) -> Result<Option<Phase>, PlanError> {
        let description =
            if name == "maintenance_on" { "put up the maintenance page" } else { "take down the maintenance page" };
        let mut work = Vec::new();
        for (index, host) in self.hosts.iter().enumerate() {
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
        Ok(Some(Phase {
            name: name.to_owned(),
            description: description.to_owned(),
            scope: Scope::Role { role: MAINTENANCE_ROLE.to_owned() },
            concurrency: self.pool(work.len()),
            work,
            undo: Vec::new(),
            derives: None,
        }))
    }

    fn pool(&self, hosts: usize) -> Concurrency {
        let hosts = u32::try_from(hosts).unwrap_or(u32::MAX).max(1);
        Concurrency::Pool { size: self.config.execution.pool_size.min(hosts) }
    }

    /// A phase on every targeted host.
    fn phase_all(
        &self,
        name: &str,
        description: &str,
        steps: impl Fn(usize, &TargetHost) -> Result<Vec<Step>, PlanError>,
    ) -> Result<Phase, PlanError> {
        let mut work = Vec::with_capacity(self.hosts.len());
        for (index, host) in self.hosts.iter().enumerate() {
            let steps = steps(index, host)?;
            if !steps.is_empty() {
                work.push(HostWork { host: index, steps });
            }
        }
        Ok(Phase {
            name: name.to_owned(),
            description: description.to_owned(),
            scope: Scope::All,
            concurrency: self.pool(self.hosts.len()),
            work,
            undo: Vec::new(),
            derives: None,
        })
    }

    /// A phase on the hosts that have something to do in it; none when none have.
    fn phase_some(
        &self,
        name: &str,
        description: &str,
        steps: impl Fn(&TargetHost) -> Result<Vec<Step>, PlanError>,
    ) -> Result<Option<Phase>, PlanError> {
        let phase = self.phase_all(name, description, |_, host| steps(host))?;
        Ok((!phase.work.is_empty()).then_some(phase))
    }

    fn for_all(&self, steps: impl Fn(&TargetHost) -> Vec<Step>) -> Vec<HostWork> {
        self.hosts.iter().enumerate().map(|(index, host)| HostWork { host: index, steps: steps(host) }).collect()
    }

    fn shared(&self) -> (Vec<String>, Vec<String>) {
        (
            self.config.shared_dirs.iter().map(ToString::to_string).collect(),
            self.config.shared_files.iter().map(ToString::to_string).collect(),
        )
    }

    /// This run's history entry; a rollback's release is known only on the hosts.
    fn history_entry(&self, event: EventKind, release: Option<&ReleaseInfo>) -> Entry {
        let invocation = &self.input.invocation;
        Entry {
            event,
            release: release.map(|release| release.id.clone()).unwrap_or_default(),
            commit: release.map(|release| release.revision.commit.clone()),
            deploy_id: Some(invocation.deploy_id.clone()),
            at: Some(invocation.started_at.clone()),
            user: Some(invocation.local_user.clone()),
            migrations: Some(event != EventKind::RolledBack && self.config.migrate.is_some()),
        }
    }

    fn template_context(&self, index: usize, host: &TargetHost, role: &str, release: &ReleaseInfo) -> Value {
        let root = &self.environment.deploy_root;
        let vars = self.config.vars_for(self.environment, Some(role));
        let mut context: Vec<(String, Value)> =
            vars.iter().map(|(name, value)| (name.clone(), Value::from(Serde(value)))).collect();
        let static_directory = self.config.static_html.directory.as_str();
        let builtins: [(&str, Value); 18] = [
            ("project", Value::from(self.config.project.as_str())),
            ("deployment", Value::from(self.input.deployment)),
            ("environment", Value::from(self.environment.name.as_str())),
            ("role", Value::from(role)),
            ("roles", Value::from(Serde(&host.roles))),
            ("host", Value::from(host.host.as_str())),
            ("host_index", Value::from(index)),
            ("user", Value::from(Serde(&host.user))),
            ("port", Value::from(Serde(host.port))),
            ("release_id", Value::from(release.id.as_str())),
            ("commit", Value::from(release.revision.commit.as_str())),
            ("branch", Value::from(Serde(&release.revision.branch))),
            ("deploy_root", Value::from(root.as_str())),
            ("release_dir", Value::from(root.join("releases").join(&release.id).as_str())),
            ("current_dir", Value::from(root.join("current").as_str())),
            ("shared_dir", Value::from(root.join("shared").as_str())),
            ("static_html_directory", Value::from(static_directory)),
            ("secrets", secrets_value(&self.config.secrets.names)),
        ];
        context.push(("vars".to_owned(), Value::from(Serde(&vars))));
        // Built-in names win over variables of the same name.
        context.extend(builtins.into_iter().map(|(name, value)| (name.to_owned(), value)));
        Value::from_pairs(context)
    }
}

/// The role a template is rendered for on `host`: the first of the template's
/// roles the host plays (any role when the template names none).
fn template_role<'a>(roles: &[String], host: &'a TargetHost) -> Option<&'a str> {
    if roles.is_empty() {
        return Some(host.roles.first().map_or("", String::as_str));
    }
    host.roles.iter().find(|role| roles.contains(role)).map(String::as_str)
}

fn plan_host(host: &TargetHost) -> PlanHost {
    PlanHost {
        name: host.to_string(),
        host: host.host.clone(),
        user: host.user.clone(),
        port: host.port,
        roles: host.roles.clone(),
        connection: host.connection,
    }
}

fn check_commit(commit: &str) -> Result<(), PlanError> {
    let valid =
        matches!(commit.len(), 40 | 64) && commit.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if valid { Ok(()) } else { Err(PlanError::InvalidCommit { commit: commit.to_owned() }) }
}

fn check_stamp(stamp: &str) -> Result<(), PlanError> {
    let bytes = stamp.as_bytes();
    let valid = bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes[..8].iter().chain(&bytes[9..15]).all(u8::is_ascii_digit);
    if valid { Ok(()) } else { Err(PlanError::InvalidReleaseId { id: stamp.to_owned() }) }
}

/// A release id as deployer makes them: `YYYYmmddTHHMMSSZ-<7+ hex>`.
pub fn check_release_id(id: &str) -> Result<(), PlanError> {
    let invalid = || PlanError::InvalidReleaseId { id: id.to_owned() };
    let (stamp, commit) = id.split_once('-').ok_or_else(invalid)?;
    check_stamp(stamp).map_err(|_| invalid())?;
    let valid =
        (7..=64).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if valid { Ok(()) } else { Err(invalid()) }
}
