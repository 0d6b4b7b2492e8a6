//! `deploy_full` on an environment whose web servers are an Auto Scaling group
//! (`FabulAWS`'s deploy with autoscaling, Riff-Raff's double-and-cull):
//!
//! 1. a builder gets the release and becomes an image and a launch template
//!    version (as `create_image`), while the servers outside the group prepare it;
//! 2. the deploy is marked in AWS (the group's tags name it and the capacity to
//!    restore; the old instances are tagged to retire), the processes that would
//!    interfere are suspended, and the group doubles on the new version;
//! 3. the new instances are reached over ssh and checked: `current` is the
//!    release, and the role's health check passes;
//! 4. the maintenance page goes up on old and new web servers, the migrations run
//!    once, the servers outside the group switch and restart;
//! 5. exactly the old instances are terminated, the capacity restored, the page
//!    taken down, the processes resumed and the marks removed.
//!
//! Until the old instances are culled, every step has its undo: the group goes
//! back to its version and capacity (the new instances terminated), processes
//! resume, tags go, the version and image are removed, the builder terminated.

use super::cloud::controller_phase;
use super::{Compiler, ReleaseInfo};
use crate::cloud::{Capacity, CloudAction, CloudStep, ScalingProcess};
use crate::error::PlanError;
use crate::input::{GroupSnapshot, TemplateVersion};
use crate::model::{HostWork, Phase};
use crate::steps::{MaintenancePages, ReleaseRef};

/// Processes suspended for the whole deploy: new instances must not join the load
/// balancer before they are checked, and nothing may rebalance or scale the
/// group under the deploy.
const SUSPENDED: [ScalingProcess; 4] = [
    ScalingProcess::AddToLoadBalancer,
    ScalingProcess::AzRebalance,
    ScalingProcess::AlarmNotification,
    ScalingProcess::ScheduledActions,
];

/// Seconds the new instances may take to be in service.
const IN_SERVICE_TIMEOUT: u32 = 900;

/// Which plan hosts play which part in a group deploy.
pub(super) struct Parts {
    /// The builder (none in a rollback: the image exists).
    builder: Option<usize>,
    /// In a rollback, the version the group goes back to.
    target: Option<TemplateVersion>,
    /// Hosts for the instances the group launches.
    pub(super) new: Vec<usize>,
    /// The group's instances now, by id (sorted).
    pub(super) old: Vec<String>,
    /// The hosts those instances are (the role's servers found by tags): the
    /// phase that terminates the last of them [retires](Phase::retires) them.
    pub(super) old_hosts: Vec<usize>,
    restore: Capacity,
    /// The processes this deploy suspends: those of [`SUSPENDED`] that were not
    /// suspended already (an operator's suspension is left as it was).
    suspends: Vec<ScalingProcess>,
    /// Per host, for [`Compiler::on_hosts`].
    only_builder: Vec<bool>,
    pub(super) outside: Vec<bool>,
    outside_and_builder: Vec<bool>,
    locked: Vec<bool>,
    pub(super) only_new: Vec<bool>,
    web: Vec<bool>,
}

impl Compiler<'_> {
    /// The hosts a group launches for this run (`deploy_full` on a group).
    pub(super) fn group_slots(&self) -> Vec<usize> {
        self.hosts
            .iter()
            .enumerate()
            .filter(|(_, host)| host.launch.as_ref().is_some_and(|slot| slot.by_group))
            .map(|(index, _)| index)
            .collect()
    }

    pub(super) fn deploy_full_group(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        let release = self.release()?;
        let (group, template) = self.group_template("deploy_full")?;
        let parts = self.parts(group, None)?;
        self.build_phases(phases, release, &parts)?;
        self.image_phases(phases, group, template, builder_of(&parts)?)?;
        self.scale_out_phases(phases, group, template, &parts);
        self.verify_phases(phases, &release.id, &parts)?;
        let pages = self.pages("deploy_full").ok();
        self.cut_over_phases(phases, release, &parts, pages.as_ref())?;
        phases.extend(Self::traffic_phase(group, &parts.new, "traffic"));
        self.cull_phases(phases, release, group, &parts, pages.as_ref())
    }

    /// The new instances registered with the group's target groups, and healthy
    /// there, before any old one goes; none without target groups.
    fn traffic_phase(group: &GroupSnapshot, new: &[usize], name: &str) -> Option<Phase> {
        if group.target_groups.is_empty() {
            return None;
        }
        let register = CloudAction::RegisterTargets {
            hosts: new.to_vec(),
            target_groups: group.target_groups.clone(),
            timeout: IN_SERVICE_TIMEOUT,
        };
        let deregister =
            CloudAction::DeregisterTargets { hosts: new.to_vec(), target_groups: group.target_groups.clone() };
        Some(with_undo(
            controller_phase(
                name,
                "send traffic to the new instances",
                vec![step("register the new instances", register)],
            ),
            vec![step("deregister the new instances", deregister)],
        ))
    }

    /// Checks the group can take a deploy, and sorts the hosts into their parts.
    /// `target`: a rollback's version (then there is no builder).
    pub(super) fn parts(&self, group: &GroupSnapshot, target: Option<TemplateVersion>) -> Result<Parts, PlanError> {
        if let Some(mark) = &group.deploy {
            let id = &mark.deploy_id;
            return Err(PlanError::Unsafe(format!(
                "auto scaling group `{}` is marked by deploy {id}, which did not finish: `deployer describe` shows \
                 it, `deployer recover` finishes or undoes it",
                group.name
            )));
        }
        if let Some(busy) = group.busy.first() {
            return Err(PlanError::Unsafe(format!(
                "auto scaling group `{}` is changing: {busy}; wait until it ends (`deployer describe` shows it)",
                group.name
            )));
        }
        if !group.load_balancers.is_empty() {
            return Err(PlanError::Unsafe(format!(
                "auto scaling group `{}` serves behind classic load balancers ({}), which deployer does not register \
                 instances with: attach target groups (ELBv2) to the group instead",
                group.name,
                group.load_balancers.join(", ")
            )));
        }
        if let Some(busy) = group.instances.iter().find(|member| member.lifecycle != "InService") {
            return Err(PlanError::Unsafe(format!(
                "instance {} of auto scaling group `{}` is {}: wait until the group is stable",
                busy.id, group.name, busy.lifecycle
            )));
        }
        let builders = self.launch_slots();
        let new = self.group_slots();
        let builder = builders.first().copied();
        let builders_needed = usize::from(target.is_none());
        if builders.len() != builders_needed || new.len() != group.desired as usize || group.desired == 0 {
            return Err(PlanError::Unsafe(format!(
                "{} on auto scaling group `{}` needs {} builder and one host per instance it runs ({})",
                self.input.command.name(),
                group.name,
                builders_needed,
                group.desired
            )));
        }
        let role = &self.config.aws.autoscaling_role;
        let in_group = |index: usize| self.hosts[index].launch.is_some() || self.hosts[index].roles.contains(role);
        let old_web = |index: usize| self.hosts[index].launch.is_none() && self.hosts[index].roles.contains(role);
        let set = |pick: &dyn Fn(usize) -> bool| (0..self.hosts.len()).map(pick).collect::<Vec<bool>>();
        let mut old: Vec<String> = group.instances.iter().map(|member| member.id.clone()).collect();
        old.sort();
        Ok(Parts {
            builder,
            target,
            only_builder: set(&|index| Some(index) == builder),
            outside: set(&|index| !in_group(index)),
            outside_and_builder: set(&|index| !in_group(index) || Some(index) == builder),
            locked: set(&|index| !new.contains(&index)),
            only_new: set(&|index| new.contains(&index)),
            web: set(&|index| new.contains(&index) || old_web(index)),
            old_hosts: (0..self.hosts.len()).filter(|&index| old_web(index)).collect(),
            new,
            old,
            restore: Capacity { min: group.min, desired: group.desired, max: group.max },
            suspends: SUSPENDED.into_iter().filter(|process| !group.suspended.contains(process)).collect(),
        })
    }

    /// The builder launched and set up, everything but the new instances locked,
    /// the release prepared on the builder and outside the group, the builder
    /// switched, restarted, checked and finished.
    pub(super) fn build_phases(
        &self,
        phases: &mut Vec<Phase>,
        release: &ReleaseInfo,
        parts: &Parts,
    ) -> Result<(), PlanError> {
        phases.extend(self.on_hosts(Some(parts.only_builder.clone()), || -> Result<Vec<Phase>, PlanError> {
            let mut made = self.launch_phases(&builders(parts), "BUILDER")?;
            self.set_up(&mut made)?;
            Ok(made)
        })?);
        phases.push(self.on_hosts(Some(parts.locked.clone()), || self.lock())?);
        phases.extend(self.on_hosts(
            Some(parts.outside_and_builder.clone()),
            || -> Result<Vec<Phase>, PlanError> {
                let mut made = self.hook_phases(deployer_config::HookPoint::BeforeDeploy, release)?;
                made.extend(self.fetch(release)?);
                made.push(self.prepare(release)?);
                Ok(made)
            },
        )?);
        phases.extend(self.on_hosts(Some(parts.only_builder.clone()), || -> Result<Vec<Phase>, PlanError> {
            let step = self.steps.switch(&ReleaseRef::Id(release.id.clone()));
            let mut made = vec![
                self.phase_all("build_image", "switch the builder to the release", |_, _| Ok(vec![step.clone()]))?,
            ];
            made.extend(self.phase_some("verify_builder", "restart and check the builder", |host| {
                let mut steps = self.restart_steps(host);
                steps.extend(self.health_steps(host));
                Ok(steps)
            })?);
            made.push(self.finish(release)?);
            Ok(made)
        })?);
        Ok(())
    }

    /// Mark the deploy, suspend what would interfere, double the group on the
    /// new version and wait for its new instances.
    fn scale_out_phases(
        &self,
        phases: &mut Vec<Phase>,
        group: &GroupSnapshot,
        template: &TemplateVersion,
        parts: &Parts,
    ) {
        self.mark_phases(phases, group, template, parts);
        let name = group.name.clone();
        let twice = parts.restore.desired.saturating_mul(2);
        let doubled = Capacity { min: twice, desired: twice, max: parts.restore.max.max(twice) };
        let scale = CloudAction::ScaleOut {
            group: name.clone(),
            template: template.id.clone(),
            version: parts.target.as_ref().map(|target| target.version),
            capacity: doubled,
        };
        let wait = CloudAction::WaitForGroup {
            group: name.clone(),
            hosts: parts.new.clone(),
            old: parts.old.clone(),
            image: parts.target.as_ref().and_then(|target| target.image.clone()),
            timeout: IN_SERVICE_TIMEOUT,
        };
        let back = CloudAction::ScaleBack {
            group: name,
            template: template.id.clone(),
            version: template.version,
            capacity: parts.restore,
            keep: parts.old.clone(),
        };
        phases.push(with_undo(
            controller_phase(
                "scale_out",
                "double the group on the new launch template version",
                vec![step("double the group", scale), step("wait for the new instances", wait)],
            ),
            vec![step("put the group back", back)],
        ));
    }

    /// The deploy marked in AWS, and the processes that would interfere suspended.
    fn mark_phases(&self, phases: &mut Vec<Phase>, group: &GroupSnapshot, template: &TemplateVersion, parts: &Parts) {
        let name = group.name.clone();
        let mark = CloudAction::MarkDeploy {
            group: name.clone(),
            deploy_id: self.input.invocation.deploy_id.clone(),
            restore: parts.restore,
            version: template.version,
            suspends: parts.suspends.clone(),
            retire: parts.old.clone(),
        };
        let clear = CloudAction::ClearDeploy { group: name.clone(), retire: parts.old.clone() };
        phases.push(with_undo(
            controller_phase("mark", "record the deploy in the group's tags", vec![step("mark the deploy", mark)]),
            vec![step("remove the deploy's tags", clear)],
        ));
        if !parts.suspends.is_empty() {
            let processes = parts.suspends.clone();
            let suspend = CloudAction::SuspendProcesses { group: name.clone(), processes: processes.clone() };
            let resume = CloudAction::ResumeProcesses { group: name, processes };
            phases.push(with_undo(
                controller_phase(
                    "suspend",
                    "suspend the processes that would interfere",
                    vec![step("suspend processes", suspend)],
                ),
                vec![step("resume processes", resume)],
            ));
        }
    }

    /// Exactly the old instances terminated, the capacity restored.
    fn cull_phase(name: &str, parts: &Parts) -> Phase {
        let mut cull = controller_phase(
            "cull",
            "terminate the old instances and restore the group's capacity",
            vec![
                step(
                    "terminate the old instances",
                    CloudAction::Cull { group: name.to_owned(), instances: parts.old.clone() },
                ),
                step(
                    "restore the capacity",
                    CloudAction::SetCapacity { group: name.to_owned(), capacity: parts.restore },
                ),
            ],
        );
        cull.retires.clone_from(&parts.old_hosts);
        cull
    }

    /// The processes resumed and the marks removed.
    fn resume_phase(name: &str, parts: &Parts) -> Phase {
        let resume = (!parts.suspends.is_empty()).then(|| {
            step(
                "resume processes",
                CloudAction::ResumeProcesses { group: name.to_owned(), processes: parts.suspends.clone() },
            )
        });
        let clear =
            step("remove the deploy's tags", CloudAction::ClearDeploy { group: name.to_owned(), retire: Vec::new() });
        controller_phase(
            "resume",
            "resume the processes and remove the deploy's tags",
            resume.into_iter().chain([clear]).collect(),
        )
    }

    /// The new instances reached over ssh: each serves the release from its
    /// image and passes the role's health check (a load balancer's check may be
    /// shallower than the application's).
    pub(super) fn verify_phases(&self, phases: &mut Vec<Phase>, release: &str, parts: &Parts) -> Result<(), PlanError> {
        let reach = CloudAction::WaitForSsh { hosts: parts.new.clone(), timeout: self.config.aws.timeouts.ssh };
        phases.push(controller_phase(
            "reach",
            "wait until the new instances accept ssh",
            vec![step("wait for ssh on the new instances", reach)],
        ));
        let verify = self.steps.verify_live(release);
        phases.push(self.on_hosts(Some(parts.only_new.clone()), || {
            self.phase_all("verify", "check each new instance serves the release and is healthy", |_, host| {
                let mut steps = vec![verify.clone()];
                steps.extend(self.health_steps(host));
                Ok(steps)
            })
        })?);
        Ok(())
    }

    /// The maintenance page on every web server, old and new; the migrations,
    /// once; the servers outside the group switched, restarted and checked.
    fn cut_over_phases(
        &self,
        phases: &mut Vec<Phase>,
        release: &ReleaseInfo,
        parts: &Parts,
        pages: Option<&MaintenancePages>,
    ) -> Result<(), PlanError> {
        if let Some(pages) = pages {
            phases.extend(self.on_hosts(Some(parts.web.clone()), || -> Result<Option<Phase>, PlanError> {
                let on =
                    self.maintenance_phase("maintenance_on", |steps| Ok(steps.maintenance_on(pages, true)), false)?;
                Ok(on.map(|mut on| {
                    on.undo = on
                        .work
                        .iter()
                        .map(|work| HostWork { host: work.host, steps: vec![self.steps.maintenance_off(pages)] })
                        .collect();
                    on
                }))
            })?);
        }
        phases.extend(self.outside_phases(release, parts)?);
        Ok(())
    }

    /// Exactly the old instances terminated, the capacity restored, the page
    /// down, the deploy finished outside the group, the processes resumed and the
    /// marks removed.
    fn cull_phases(
        &self,
        phases: &mut Vec<Phase>,
        release: &ReleaseInfo,
        group: &GroupSnapshot,
        parts: &Parts,
        pages: Option<&MaintenancePages>,
    ) -> Result<(), PlanError> {
        let name = group.name.clone();
        phases.push(Self::cull_phase(&name, parts));
        if let Some(pages) = pages {
            phases.extend(self.on_hosts(Some(parts.only_new.clone()), || {
                self.maintenance_phase("maintenance_off", |steps| Ok(steps.maintenance_off(pages)), false)
            })?);
        }
        phases.extend(self.finish_outside(release, parts)?);
        phases.push(Self::resume_phase(&name, parts));
        Ok(())
    }
}

/// The builder of a deploy that builds an image ([`Compiler::parts`] checked it).
pub(super) fn builder_of(parts: &Parts) -> Result<usize, PlanError> {
    parts.builder.ok_or_else(|| PlanError::Unsafe("this deploy builds an image but has no builder".to_owned()))
}

/// The builder, as a list of hosts.
fn builders(parts: &Parts) -> Vec<usize> {
    parts.builder.into_iter().collect()
}

pub(super) fn step(title: &str, action: CloudAction) -> CloudStep {
    CloudStep { title: title.to_owned(), action }
}

pub(super) fn with_undo(mut phase: Phase, undo: Vec<CloudStep>) -> Phase {
    phase.cloud_undo = undo;
    phase
}

impl Compiler<'_> {
    /// The deploy recorded and finished on the servers outside the group (none
    /// when there are none).
    pub(super) fn finish_outside(&self, release: &ReleaseInfo, parts: &Parts) -> Result<Option<Phase>, PlanError> {
        self.on_hosts(Some(parts.outside.clone()), || -> Result<Option<Phase>, PlanError> {
            let finish = self.finish(release)?;
            Ok((!finish.work.is_empty()).then_some(finish))
        })
    }

    /// Outside the group: the migrations, once, then the switch, restart and
    /// health checks.
    pub(super) fn outside_phases(&self, release: &ReleaseInfo, parts: &Parts) -> Result<Vec<Phase>, PlanError> {
        self.on_hosts(Some(parts.outside.clone()), || -> Result<Vec<Phase>, PlanError> {
            let mut made: Vec<Phase> = self.migrate(release)?.into_iter().collect();
            let step = self.steps.switch(&ReleaseRef::Id(release.id.clone()));
            let mut switch =
                self.phase_all("switch", "switch `current` to the new release outside the group", |_, host| {
                    self.armed(host, release, vec![step.clone()])
                })?;
            switch.undo = self.deploy_switch_undo(release);
            if !switch.work.is_empty() {
                made.push(switch);
            }
            made.extend(self.phase_some("restart", "restart services", |host| Ok(self.restart_steps(host)))?);
            made.extend(
                self.phase_some("healthcheck", "check every host is healthy", |host| Ok(self.health_steps(host)))?,
            );
            Ok(made)
        })
    }

    /// `deploy_serial` on a group: the same build, then the migrations (old web
    /// servers still serving: backward-compatible changes only, as `FabulAWS`
    /// said) and the servers outside the group; then, batch by batch, launch
    /// before terminate: the group grows by the batch on the new version, the
    /// new instances are checked over ssh, and as many old ones are culled.
    pub(super) fn deploy_serial_group(
        &self,
        phases: &mut Vec<Phase>,
        batch_size: Option<u32>,
    ) -> Result<(), PlanError> {
        let release = self.release()?;
        let (group, template) = self.group_template("deploy_serial")?;
        let parts = self.parts(group, None)?;
        let size = batch_size.unwrap_or(self.config.execution.batch_size).max(1) as usize;
        if self.config.aws.deploy_serial == deployer_config::GroupReplacement::Refresh {
            return self.deploy_serial_refresh(phases, release, (group, template), &parts, size);
        }
        self.build_phases(phases, release, &parts)?;
        self.image_phases(phases, group, template, builder_of(&parts)?)?;
        phases.extend(self.outside_phases(release, &parts)?);
        self.mark_phases(phases, group, template, &parts);
        let name = group.name.clone();
        let batches: Vec<(&[usize], &[String])> = parts.new.chunks(size).zip(parts.old.chunks(size)).collect();
        let count = batches.len();
        for (number, (new, old)) in batches.into_iter().enumerate() {
            let label = format!("batch {} of {count}", number + 1);
            let extra = u32::try_from(new.len()).unwrap_or(u32::MAX);
            let grown = Capacity {
                min: parts.restore.min,
                desired: parts.restore.desired.saturating_add(extra),
                max: parts.restore.max.max(parts.restore.desired.saturating_add(extra)),
            };
            let scale = CloudAction::ScaleOut {
                group: name.clone(),
                template: template.id.clone(),
                version: None,
                capacity: grown,
            };
            // Every old instance not yet culled, so the wait takes only new ones
            // (instances bound in earlier batches are left out by the provider).
            let wait = CloudAction::WaitForGroup {
                group: name.clone(),
                hosts: new.to_vec(),
                old: parts.old.clone(),
                image: None,
                timeout: IN_SERVICE_TIMEOUT,
            };
            let back = CloudAction::ScaleBackBatch {
                group: name.clone(),
                hosts: new.to_vec(),
                old: old.to_vec(),
                template: template.id.clone(),
                version: template.version,
                capacity: parts.restore,
            };
            phases.push(with_undo(
                controller_phase(
                    &format!("scale_out_{}", number + 1),
                    &format!("{label}: grow the group by {} on the new version", new.len()),
                    vec![step("grow the group", scale), step("wait for the new instances", wait)],
                ),
                vec![step("put the batch back", back)],
            ));
            let reach = CloudAction::WaitForSsh { hosts: new.to_vec(), timeout: self.config.aws.timeouts.ssh };
            phases.push(controller_phase(
                &format!("reach_{}", number + 1),
                &format!("{label}: wait until the new instances accept ssh"),
                vec![step("wait for ssh on the new instances", reach)],
            ));
            let verify = self.steps.verify_live(&release.id);
            let only: Vec<bool> = (0..self.hosts.len()).map(|index| new.contains(&index)).collect();
            phases.push(self.on_hosts(Some(only), || {
                self.phase_all(
                    &format!("verify_{}", number + 1),
                    &format!("{label}: check each new instance serves the release and is healthy"),
                    |_, host| {
                        let mut steps = vec![verify.clone()];
                        steps.extend(self.health_steps(host));
                        Ok(steps)
                    },
                )
            })?);
            phases.extend(Self::traffic_phase(group, new, &format!("traffic_{}", number + 1)));
            let mut cull = controller_phase(
                &format!("cull_{}", number + 1),
                &format!("{label}: terminate as many old instances"),
                vec![
                    step("terminate old instances", CloudAction::Cull { group: name.clone(), instances: old.to_vec() }),
                    step(
                        "restore the capacity",
                        CloudAction::SetCapacity { group: name.clone(), capacity: parts.restore },
                    ),
                ],
            );
            // Which old server an instance id is, the plan does not know: after
            // the last batch, every one is gone.
            if number + 1 == count {
                cull.retires.clone_from(&parts.old_hosts);
            }
            phases.push(cull);
        }
        phases.extend(self.finish_outside(release, &parts)?);
        phases.push(Self::resume_phase(&name, &parts));
        Ok(())
    }
}

impl Compiler<'_> {
    /// `rollback` on a group: the group goes back to an earlier launch template
    /// version deployer made (`--to <release>`, else the newest one before the
    /// current version on another image) through the same double-and-cull, and
    /// the servers outside the group roll back to that same release, so every
    /// role ends on one release. No image is built; nothing migrates.
    pub(super) fn rollback_group(&self, phases: &mut Vec<Phase>, to: Option<&str>) -> Result<(), PlanError> {
        let (group, template) = self.group_template("rollback")?;
        let target = rollback_version(group, template, to)?;
        let release = target.release().unwrap_or_default().to_owned();
        super::check_release_id(&release)?;
        let parts = self.parts(group, Some(target))?;
        phases.push(self.on_hosts(Some(parts.locked.clone()), || self.lock())?);
        self.scale_out_phases(phases, group, template, &parts);
        self.verify_phases(phases, &release, &parts)?;
        let outside = parts.outside.iter().any(|&active| active);
        if outside {
            phases.extend(self.on_hosts(Some(parts.outside.clone()), || self.rollback_switch(Some(&release)))?);
        }
        phases.extend(Self::traffic_phase(group, &parts.new, "traffic"));
        phases.push(Self::cull_phase(&group.name, &parts));
        if outside {
            phases.push(self.on_hosts(Some(parts.outside.clone()), || self.rollback_finish())?);
        }
        phases.push(Self::resume_phase(&group.name, &parts));
        Ok(())
    }
}

/// The version a group rollback goes back to: the one deployer made for `to`, else
/// the newest deployer version before the current one that launches another image.
fn rollback_version(
    group: &GroupSnapshot,
    current: &TemplateVersion,
    to: Option<&str>,
) -> Result<TemplateVersion, PlanError> {
    let found = match to {
        Some(release) => group.versions.iter().find(|version| version.release() == Some(release)),
        None => group
            .versions
            .iter()
            .filter(|version| version.version < current.version && version.image != current.image)
            .max_by_key(|version| version.version),
    };
    let Some(found) = found else {
        return Err(PlanError::Unsafe(match to {
            Some(release) => format!(
                "no version of launch template {} launches release {release}: `deployer describe` lists the group",
                current.name
            ),
            None => format!(
                "launch template {} has no version deployer made before version {} with another image: nothing to \
                 roll back to",
                current.name, current.version
            ),
        }));
    };
    if found.version == current.version {
        return Err(PlanError::Unsafe(format!(
            "auto scaling group `{}` already launches release {} (version {})",
            group.name,
            found.release().unwrap_or("?"),
            found.version
        )));
    }
    Ok(found.clone())
}
