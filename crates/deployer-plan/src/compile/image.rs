//! `create_image` (`FabulAWS`'s `create_launch_config_for_deployment`): a builder
//! server launched from the base image gets the release through the normal
//! phases (set up, prepare, switch, restart, health check; never a migration),
//! becomes an image tagged with the release and commit, and the image a new
//! version of the group's launch template on top of the one it launches now.
//! The builder is terminated on every way out; a failure also removes the image
//! and the version this run made.

use super::Compiler;
use super::cloud::controller_phase;
use crate::cloud::{CloudAction, CloudStep};
use crate::error::PlanError;
use crate::input::{GroupSnapshot, TemplateVersion};
use crate::model::Phase;

/// Seconds an image may take to become available.
const IMAGE_TIMEOUT: u32 = 3600;

impl Compiler<'_> {
    pub(super) fn create_image(&self, phases: &mut Vec<Phase>) -> Result<(), PlanError> {
        let (group, template) = self.group_template("create_image")?;
        let slots = self.launch_slots();
        let [builder] = slots[..] else {
            return Err(PlanError::Unsafe("create_image builds on exactly one server, the builder".to_owned()));
        };
        phases.extend(self.launch_phases(&slots, "BUILDER")?);
        phases.push(self.lock()?);
        self.set_up(phases)?;
        self.deploy_full_locked(phases)?;
        self.image_phases(phases, group, template, builder)
    }

    /// The builder becomes an image and a launch template version, then goes.
    pub(super) fn image_phases(
        &self,
        phases: &mut Vec<Phase>,
        group: &GroupSnapshot,
        template: &TemplateVersion,
        builder: usize,
    ) -> Result<(), PlanError> {
        let release = self.release()?;
        let role = self.config.aws.autoscaling_role.as_str();
        let mut tags = vec![
            ("deployment".to_owned(), self.input.deployment.to_owned()),
            ("environment".to_owned(), self.environment.name.clone()),
            ("role".to_owned(), role.to_owned()),
            ("deployer:release".to_owned(), release.id.clone()),
            ("deployer:commit".to_owned(), release.revision.commit.clone()),
        ];
        let name = format!("{}_{}", self.server_name(role), release.id);
        tags.push(("Name".to_owned(), name.clone()));
        let mut image = controller_phase(
            "image",
            "make an image of the builder",
            vec![CloudStep {
                title: "make the image".to_owned(),
                action: CloudAction::CreateImage { host: builder, name, tags, timeout: IMAGE_TIMEOUT },
            }],
        );
        image.cloud_undo = vec![CloudStep { title: "remove the image".to_owned(), action: CloudAction::DeleteImage }];
        phases.push(image);
        let mut version = controller_phase(
            "template",
            &format!("add a launch template version for auto scaling group `{}`", group.name),
            vec![CloudStep {
                title: "add the launch template version".to_owned(),
                action: CloudAction::CreateTemplateVersion {
                    template: template.id.clone(),
                    source_version: template.version,
                    description: format!("deployer release {}", release.id),
                },
            }],
        );
        version.cloud_undo = vec![CloudStep {
            title: "delete the launch template version".to_owned(),
            action: CloudAction::DeleteTemplateVersion { template: template.id.clone() },
        }];
        phases.push(version);
        phases.push(controller_phase(
            "cleanup",
            "terminate the builder, remove old release images",
            vec![
                CloudStep {
                    title: "terminate the builder".to_owned(),
                    action: CloudAction::TerminateInstances { hosts: vec![builder] },
                },
                CloudStep {
                    title: "remove old release images".to_owned(),
                    action: CloudAction::PruneImages {
                        deployment: self.input.deployment.to_owned(),
                        environment: self.environment.name.clone(),
                        role: role.to_owned(),
                        template: template.id.clone(),
                        keep: self.config.aws.images_keep,
                        // The group still launches it until a deploy moves it on.
                        protect: template.image.iter().cloned().collect(),
                    },
                },
            ],
        ));
        Ok(())
    }

    /// The environment's group as the run found it, and the launch template it
    /// launches from; a group on a launch configuration is refused.
    pub(super) fn group_template(
        &self,
        command: &'static str,
    ) -> Result<(&GroupSnapshot, &TemplateVersion), PlanError> {
        let expected = self.autoscaling_group(command)?;
        let group = self.input.group.as_ref().filter(|group| group.name == expected).ok_or_else(|| {
            PlanError::Unsafe(format!("{command} needs auto scaling group `{expected}` as AWS describes it"))
        })?;
        match (&group.template, &group.launch_configuration) {
            (Some(template), _) => Ok((group, template)),
            (None, Some(configuration)) => Err(PlanError::Unsafe(format!(
                "auto scaling group `{}` launches from launch configuration `{configuration}`: AWS no longer lets \
                 new accounts create launch configurations, so deployer makes launch template versions; move the \
                 group to a launch template (the EC2 console converts a launch configuration to one)",
                group.name
            ))),
            (None, None) => {
                Err(PlanError::Unsafe(format!("auto scaling group `{}` names no launch template", group.name)))
            }
        }
    }
}
