//! Command → phases. Each command's phase order is spelled out in one function
//! (`commands.rs`); the phases deploys share are in `deploy.rs`.

mod cloud;
mod commands;
mod context;
mod deploy;
mod fabulaws;
mod fuse;
mod group;
mod hooks;
mod ids;
mod image;
mod launch;
mod recover;
mod refresh;
mod tasks;
mod traffic;

pub use ids::check_release_id;
use ids::{check_commit, check_stamp};

use deployer_config::{Config, Environment, TargetHost};

use crate::error::PlanError;
use crate::input::{CommandSpec, PlanInput};
use crate::layout::Layout;
use crate::model::{Concurrency, HostWork, Phase, Plan, PlanHost, Revision, Scope, Step};
use crate::steps::{StepBuilder, short};

/// The role whose hosts serve the maintenance page (`FabulAWS`'s `@roles(web)`).
const MAINTENANCE_ROLE: &str = "web";

/// Compiles `input` into a plan. Pure: the same input gives the same plan.
pub fn compile(input: &PlanInput<'_>) -> Result<Plan, PlanError> {
    let config = input.config;
    let environment = config.environment(input.environment)?;
    if input.hosts.is_empty() && !input.command.runs_on_no_host() {
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
    if let (CommandSpec::Resume { release: resumed, .. }, Some(release)) = (&input.command, &release)
        && *resumed != release.id
    {
        return Err(PlanError::Unsafe(format!(
            "resume: the release to continue is {resumed}, but this commit and stamp make {}",
            release.id
        )));
    }
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
            run: &input.invocation.deploy_id,
        },
        release: release.as_ref(),
        servers: std::cell::OnceCell::new(),
        active: std::cell::RefCell::new(None),
    };
    compiler.restarts =
        compiler.by_role(|role| (!role.restart.is_empty()).then(|| compiler.steps.restart(&role.name, &role.restart)));
    compiler.health_checks =
        compiler.by_role(|role| role.healthcheck.as_ref().map(|check| compiler.steps.health_check(&role.name, check)));
    let phases = fuse::fuse(compiler.phases()?);
    let follow_ups = match (&release, input.command.ships_a_release()) {
        (Some(release), true) => compiler.follow_ups(release)?,
        _ => Vec::new(),
    };
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
        shipping: input.shipping.clone().filter(|_| release.is_some()),
        phases,
        follow_ups,
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
    /// `FabulAWS`'s servers by role, for templates; computed on first use.
    servers: std::cell::OnceCell<fabulaws::Servers>,
    /// The hosts the phases being built run on; every host when `None`. A deploy
    /// to an Auto Scaling group builds its phases for different sets of hosts
    /// (the builder, the servers outside the group, the old and new instances).
    active: std::cell::RefCell<Option<Vec<bool>>>,
}

impl Compiler<'_> {
    fn release(&self) -> Result<&ReleaseInfo, PlanError> {
        self.release.ok_or_else(|| PlanError::NoRevision { command: self.input.command.name().to_owned() })
    }

    /// In a resume, the hosts where the release is already complete.
    fn already_prepared(&self) -> Option<&[String]> {
        match &self.input.command {
            CommandSpec::Resume { prepared, .. } => Some(prepared),
            _ => None,
        }
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

    /// Whether the phases being built run on host `index`.
    fn is_active(&self, index: usize) -> bool {
        self.active.borrow().as_ref().is_none_or(|active| active[index])
    }

    /// Builds phases for the hosts `active` says (every host with `None`).
    fn on_hosts<T>(&self, active: Option<Vec<bool>>, phases: impl FnOnce() -> T) -> T {
        let before = self.active.replace(active);
        let result = phases();
        self.active.replace(before);
        result
    }

    /// The active hosts.
    fn active_hosts(&self) -> impl Iterator<Item = (usize, &TargetHost)> {
        self.hosts.iter().enumerate().filter(|(index, _)| self.is_active(*index))
    }

    /// `step` on every host that plays one of `roles` (every host when empty).
    fn on_roles(&self, roles: &[String], step: &Step) -> Vec<HostWork> {
        self.active_hosts()
            .filter(|(_, host)| roles.is_empty() || host.roles.iter().any(|role| roles.contains(role)))
            .map(|(index, _)| HostWork { host: index, steps: vec![step.clone()] })
            .collect()
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
        for (index, host) in self.active_hosts() {
            let steps = steps(index, host)?;
            if !steps.is_empty() {
                work.push(HostWork { host: index, steps });
            }
        }
        Ok(Phase::new(name, description, Scope::All, self.pool(self.active_hosts().count()), work))
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
        self.active_hosts().map(|(index, host)| HostWork { host: index, steps: steps(host) }).collect()
    }

    fn shared(&self) -> (Vec<String>, Vec<String>) {
        (
            self.config.shared_dirs.iter().map(ToString::to_string).collect(),
            self.config.shared_files.iter().map(ToString::to_string).collect(),
        )
    }
}

fn plan_host(host: &TargetHost) -> PlanHost {
    PlanHost {
        // A server to launch has no address yet: its slot names it.
        name: if host.launch.is_some() { host.host.clone() } else { host.to_string() },
        launch: host.launch.clone(),
        host: host.host.clone(),
        user: host.user.clone(),
        port: host.port,
        roles: host.roles.clone(),
        connection: host.connection,
        gateway: host.gateway.clone(),
    }
}
