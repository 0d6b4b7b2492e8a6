//! An Auto Scaling group as a command that changes it needs to know it before
//! planning: capacity, and the launch template version it launches from (its
//! number, `$Latest` and `$Default` resolved, and that version's image).

use aws_sdk_ec2::types::Filter;
use deployer_plan::{DeployMark, GroupMember, GroupSnapshot, ScalingProcess, TemplateVersion};

use crate::{Aws, AwsError};

impl Aws {
    pub async fn group_snapshot(&self, name: &str) -> Result<GroupSnapshot, AwsError> {
        let group = &self.describe_group(name).await?;
        let specification = group.launch_template().cloned().or_else(|| {
            group
                .mixed_instances_policy()
                .and_then(|policy| policy.launch_template())
                .and_then(|template| template.launch_template_specification())
                .cloned()
        });
        let template = match specification {
            Some(specification) => {
                let id = specification.launch_template_id().map(str::to_owned);
                let template_name = specification.launch_template_name().map(str::to_owned);
                let version = specification.version().unwrap_or("$Default").to_owned();
                Some(self.template_version(id, template_name, &version).await?)
            }
            None => None,
        };
        let versions = match &template {
            Some(template) => self.deployer_versions(&template.id).await?,
            None => Vec::new(),
        };
        let count = |value: Option<i32>| value.and_then(|value| u32::try_from(value).ok()).unwrap_or(0);
        let tags = crate::autoscaling::group_tags(group);
        Ok(GroupSnapshot {
            name: name.to_owned(),
            min: count(group.min_size()),
            desired: count(group.desired_capacity()),
            max: count(group.max_size()),
            template,
            launch_configuration: group.launch_configuration_name().map(str::to_owned),
            instances: group
                .instances()
                .iter()
                .map(|instance| GroupMember {
                    id: instance.instance_id().unwrap_or_default().to_owned(),
                    lifecycle: instance.lifecycle_state().map_or_else(String::new, |state| state.as_str().to_owned()),
                    health: instance.health_status().unwrap_or_default().to_owned(),
                })
                .collect(),
            deploy: self.deploy_mark(&tags).await?,
            suspended: group
                .suspended_processes()
                .iter()
                .filter_map(|process| process.process_name())
                .filter_map(ScalingProcess::parse)
                .collect(),
            versions,
            target_groups: group.target_group_arns().to_vec(),
            load_balancers: group.load_balancer_names().to_vec(),
            busy: self.busy(name).await?,
            tags,
        })
    }

    /// The deploy the group's tags say is in progress, and the instances it
    /// tagged to retire that still run. A mark deployer cannot read is an error:
    /// guessing what to restore could take capacity away.
    pub(crate) async fn deploy_mark(&self, tags: &[(String, String)]) -> Result<Option<DeployMark>, AwsError> {
        let tag = |key: &str| tags.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str());
        let Some(deploy_id) = tag(crate::rollout::DEPLOY_TAG) else { return Ok(None) };
        let restore = tag(crate::rollout::RESTORE_TAG).unwrap_or_default();
        let Some((restore, version, suspends)) = DeployMark::parse_restore(restore) else {
            return Err(AwsError::Answer(format!(
                "the group is marked by deploy {deploy_id}, but its `{}` tag `{restore}` is not what deployer wrote",
                crate::rollout::RESTORE_TAG
            )));
        };
        let found = self
            .ec2
            .describe_instances()
            .filters(Filter::builder().name(format!("tag:{}", crate::rollout::RETIRE_TAG)).values(deploy_id).build())
            .filters(Filter::builder().name("instance-state-name").values("pending").values("running").build())
            .send()
            .await
            .map_err(|error| AwsError::call("DescribeInstances", &error))?;
        let mut retiring: Vec<String> = found
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .filter_map(|instance| instance.instance_id())
            .map(str::to_owned)
            .collect();
        retiring.sort();
        Ok(Some(DeployMark { deploy_id: deploy_id.to_owned(), restore, version, suspends, retiring }))
    }

    async fn template_version(
        &self,
        id: Option<String>,
        name: Option<String>,
        version: &str,
    ) -> Result<TemplateVersion, AwsError> {
        let found = self
            .ec2
            .describe_launch_template_versions()
            .set_launch_template_id(id)
            .set_launch_template_name(name)
            .versions(version)
            .send()
            .await
            .map_err(|error| AwsError::call("DescribeLaunchTemplateVersions", &error))?;
        let Some(found) = found.launch_template_versions().first() else {
            return Err(AwsError::Answer(format!("the group's launch template has no version `{version}`")));
        };
        Ok(template_version(found))
    }

    /// The versions of `template` deployer made, newest first.
    async fn deployer_versions(&self, template: &str) -> Result<Vec<TemplateVersion>, AwsError> {
        let mut pages =
            self.ec2.describe_launch_template_versions().launch_template_id(template).into_paginator().send();
        let mut versions = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| AwsError::call("DescribeLaunchTemplateVersions", &error))?;
            for found in page.launch_template_versions() {
                let version = template_version(found);
                if version.release().is_some() {
                    versions.push(version);
                }
            }
        }
        versions.sort_by_key(|version| std::cmp::Reverse(version.version));
        Ok(versions)
    }
}

fn template_version(found: &aws_sdk_ec2::types::LaunchTemplateVersion) -> TemplateVersion {
    TemplateVersion {
        id: found.launch_template_id().unwrap_or_default().to_owned(),
        name: found.launch_template_name().unwrap_or_default().to_owned(),
        version: found.version_number().and_then(|number| u64::try_from(number).ok()).unwrap_or(0),
        image: found.launch_template_data().and_then(|data| data.image_id()).map(str::to_owned),
        description: found.version_description().map(str::to_owned),
    }
}
