//! The executor's [`Cloud`] for AWS: each typed [`CloudAction`] of a controller
//! phase becomes its SDK calls here, and nowhere else.

use deployer_exec::{Cloud, CloudDone, CloudState};
use deployer_plan::{CloudAction, made};

use crate::{Aws, AwsError};

impl Cloud for Aws {
    async fn run(&self, action: &CloudAction, state: &CloudState) -> Result<CloudDone, String> {
        self.perform(action, state).await.map_err(|error| error.to_string())
    }
}

impl Aws {
    async fn perform(&self, action: &CloudAction, state: &CloudState) -> Result<CloudDone, AwsError> {
        // Only instances this run launched: a slot never launched has none.
        let made = |name: &str| state.made.get(name).cloned();
        Ok(match action {
            CloudAction::SuspendProcesses { group, processes } => {
                self.suspend_processes(group, processes).await?;
                format!("suspended on `{group}`").into()
            }
            CloudAction::ResumeProcesses { group, processes } => {
                self.resume_processes(group, processes).await?;
                format!("resumed on `{group}`").into()
            }
            CloudAction::LaunchInstances { hosts, spec } => {
                let launched = self.launch(spec, hosts.len()).await?;
                let ids: Vec<&str> = launched.iter().map(|instance| instance.id.as_str()).collect();
                CloudDone { note: format!("launched {}", ids.join(", ")), launched, made: Vec::new() }
            }
            CloudAction::TerminateInstances { hosts } => {
                let ids = ids_of(state, hosts);
                self.terminate(&ids).await?;
                format!("terminated {}", describe_ids(&ids)).into()
            }
            CloudAction::TagInstances { hosts, tags } => {
                let ids = ids_of(state, hosts);
                self.tag(&ids, tags).await?;
                format!("tagged {}", describe_ids(&ids)).into()
            }
            CloudAction::CreateImage { host, name, tags, timeout } => {
                let instance = state
                    .launched
                    .get(host)
                    .ok_or_else(|| AwsError::Answer("the builder was never launched".to_owned()))?;
                let image = self.create_image(&instance.id, name, tags, *timeout).await?;
                CloudDone {
                    note: format!("made {image} of {}", instance.id),
                    launched: Vec::new(),
                    made: vec![(made::IMAGE.to_owned(), image)],
                }
            }
            CloudAction::PruneImages { deployment, environment, role, template, keep, protect } => {
                let mut protect = protect.clone();
                protect.extend(made(made::IMAGE));
                let pruning = crate::images::Pruning {
                    deployment,
                    environment,
                    role,
                    template,
                    keep: *keep as usize,
                    protect: &protect,
                };
                self.prune_images(&pruning).await.into()
            }
            CloudAction::DeleteImage => match made(made::IMAGE) {
                Some(image) => {
                    self.delete_image(&image).await?;
                    format!("deregistered {image}").into()
                }
                None => "no image was made".to_owned().into(),
            },
            CloudAction::CreateTemplateVersion { template, source_version, description } => {
                let image = made(made::IMAGE).ok_or_else(|| AwsError::Answer("no image was made".to_owned()))?;
                let version = self.create_template_version(template, *source_version, &image, description).await?;
                CloudDone {
                    note: format!("version {version} of {template} launches {image}"),
                    launched: Vec::new(),
                    made: vec![(made::TEMPLATE_VERSION.to_owned(), version.to_string())],
                }
            }
            CloudAction::DeleteTemplateVersion { template } => match made(made::TEMPLATE_VERSION) {
                Some(version) => {
                    self.delete_template_version(template, &version).await?;
                    format!("deleted version {version} of {template}").into()
                }
                None => "no version was made".to_owned().into(),
            },
            CloudAction::MarkDeploy { .. }
            | CloudAction::ClearDeploy { .. }
            | CloudAction::ScaleOut { .. }
            | CloudAction::ScaleBack { .. }
            | CloudAction::WaitForGroup { .. }
            | CloudAction::ScaleBackBatch { .. }
            | CloudAction::RegisterTargets { .. }
            | CloudAction::DeregisterTargets { .. }
            | CloudAction::Cull { .. }
            | CloudAction::SetCapacity { .. }
            | CloudAction::RefreshInstances { .. }
            | CloudAction::RefreshBack { .. } => self.perform_on_group(action, state).await?,
            // The executor runs these itself; none reaches a cloud.
            CloudAction::LeaveTargetGroups { address, target_groups, timeout } => {
                self.leave_target_groups(address, target_groups, *timeout).await?.into()
            }
            CloudAction::JoinTargetGroups { address, target_groups, timeout } => {
                self.join_target_groups(address, target_groups, *timeout).await?.into()
            }
            CloudAction::LocalCommand { .. } | CloudAction::WaitForSsh { .. } => {
                return Err(AwsError::Answer("this step is not a cloud call".to_owned()));
            }
        })
    }
}

impl Aws {
    /// The actions of a deploy that replaces a group's instances.
    async fn perform_on_group(&self, action: &CloudAction, state: &CloudState) -> Result<CloudDone, AwsError> {
        let made = |name: &str| state.made.get(name).cloned();
        Ok(match action {
            CloudAction::MarkDeploy { group, deploy_id, restore, version, suspends, retire } => {
                self.mark_deploy(group, deploy_id, (*restore, *version, suspends), retire).await?;
                format!("marked `{group}` and {} instance(s) to retire", retire.len()).into()
            }
            CloudAction::ClearDeploy { group, retire } => {
                self.clear_deploy(group, retire).await?;
                format!("removed the deploy's tags from `{group}`").into()
            }
            CloudAction::ScaleOut { group, template, version, capacity } => {
                let version = version
                    .map(|version| version.to_string())
                    .or_else(|| made(made::TEMPLATE_VERSION))
                    .ok_or_else(|| AwsError::Answer("no template version was made".to_owned()))?;
                self.update_group(group, Some((template, version.clone())), *capacity).await?;
                format!("`{group}` on version {version}; {capacity}").into()
            }
            CloudAction::ScaleBack { group, template, version, capacity, keep } => {
                let terminated = self.scale_back(group, template, *version, *capacity, keep).await?;
                format!("terminated {}; `{group}` on version {version}; {capacity}", describe_ids(&terminated)).into()
            }
            CloudAction::WaitForGroup { group, hosts, old, image, timeout } => {
                let image = image
                    .clone()
                    .or_else(|| made(made::IMAGE))
                    .ok_or_else(|| AwsError::Answer("no image was made".to_owned()))?;
                // Instances an earlier batch took are not this batch's.
                let mut taken = old.clone();
                taken.extend(state.launched.values().map(|instance| instance.id.clone()));
                let launched = self.wait_for_group(group, hosts.len(), &taken, &image, *timeout).await?;
                let ids: Vec<&str> = launched.iter().map(|instance| instance.id.as_str()).collect();
                CloudDone { note: format!("in service: {}", ids.join(", ")), launched, made: Vec::new() }
            }
            CloudAction::ScaleBackBatch { group, hosts, old, template, version, capacity } => {
                let new: Vec<String> = hosts
                    .iter()
                    .filter_map(|host| state.launched.get(host))
                    .map(|instance| instance.id.clone())
                    .collect();
                self.scale_back_batch(group, &new, old, (template, *version), *capacity).await?;
                format!("terminated {}; `{group}` on version {version}; {capacity}", describe_ids(&new)).into()
            }
            CloudAction::RegisterTargets { hosts, target_groups, timeout } => {
                let ids = ids_of(state, hosts);
                self.register_targets(target_groups, &ids, *timeout).await?;
                format!("{} healthy in {} target group(s)", describe_ids(&ids), target_groups.len()).into()
            }
            CloudAction::DeregisterTargets { hosts, target_groups } => {
                let ids = ids_of(state, hosts);
                self.deregister_targets(target_groups, &ids).await?;
                format!("deregistered {}", describe_ids(&ids)).into()
            }
            CloudAction::Cull { group, instances } => {
                self.cull(group, instances).await?;
                format!("terminated {}", describe_ids(instances)).into()
            }
            CloudAction::SetCapacity { group, capacity } => {
                self.update_group(group, None, *capacity).await?;
                format!("`{group}`: {capacity}").into()
            }
            CloudAction::RefreshInstances { group, template, max_healthy, hosts, timeout } => {
                let version = made(made::TEMPLATE_VERSION)
                    .ok_or_else(|| AwsError::Answer("no template version was made".to_owned()))?;
                let image = made(made::IMAGE).ok_or_else(|| AwsError::Answer("no image was made".to_owned()))?;
                let (id, launched) =
                    self.refresh(group, (template, &version), (*max_healthy, *timeout), (&image, hosts.len())).await?;
                let ids: Vec<&str> = launched.iter().map(|instance| instance.id.as_str()).collect();
                CloudDone {
                    note: format!("refresh {id} put version {version} on `{group}`: {}", ids.join(", ")),
                    launched,
                    made: Vec::new(),
                }
            }
            CloudAction::RefreshBack { group, template, version, image, timeout } => {
                self.refresh_back(group, (template, *version), image.as_deref(), *timeout).await?.into()
            }
            other => return Err(AwsError::Answer(format!("not an auto scaling group action: {}", other.describe()))),
        })
    }
}

/// The instances this run bound to `hosts`.
fn ids_of(state: &CloudState, hosts: &[usize]) -> Vec<String> {
    hosts.iter().filter_map(|host| state.launched.get(host)).map(|instance| instance.id.clone()).collect()
}

fn describe_ids(ids: &[String]) -> String {
    if ids.is_empty() { "nothing (no server was launched)".to_owned() } else { ids.join(", ") }
}
