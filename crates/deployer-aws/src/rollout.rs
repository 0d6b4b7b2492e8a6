//! A deploy that replaces an Auto Scaling group's instances: its marks in AWS,
//! the group doubled on a new launch template version, the wait for the new
//! instances, the cull of exactly the old ones, and the way back.

use std::time::Duration;

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use deployer_exec::LaunchedInstance;
use deployer_plan::{Capacity, DeployMark, ScalingProcess};

use crate::autoscaling::call;
use crate::{Aws, AwsError};

pub(crate) const DEPLOY_TAG: &str = "deployer:deploy";
pub(crate) const RESTORE_TAG: &str = "deployer:restore";
pub(crate) const RETIRE_TAG: &str = "deployer:retire";

fn int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl Aws {
    pub async fn mark_deploy(
        &self,
        group: &str,
        deploy_id: &str,
        (restore, version, suspends): (Capacity, u64, &[ScalingProcess]),
        retire: &[String],
    ) -> Result<(), AwsError> {
        let tag = |key: &str, value: String| {
            Tag::builder()
                .resource_id(group)
                .resource_type("auto-scaling-group")
                .key(key)
                .value(value)
                .propagate_at_launch(false)
                .build()
        };
        self.autoscaling
            .create_or_update_tags()
            .tags(tag(DEPLOY_TAG, deploy_id.to_owned()))
            .tags(tag(RESTORE_TAG, DeployMark::restore_value(restore, version, suspends)))
            .send()
            .await
            .map_err(|error| call("CreateOrUpdateTags", &error))?;
        self.tag(retire, &[(RETIRE_TAG.to_owned(), deploy_id.to_owned())]).await
    }

    pub async fn clear_deploy(&self, group: &str, retire: &[String]) -> Result<(), AwsError> {
        let tag = |key: &str| Tag::builder().resource_id(group).resource_type("auto-scaling-group").key(key).build();
        self.autoscaling
            .delete_tags()
            .tags(tag(DEPLOY_TAG))
            .tags(tag(RESTORE_TAG))
            .send()
            .await
            .map_err(|error| call("DeleteTags", &error))?;
        if retire.is_empty() {
            return Ok(());
        }
        self.ec2
            .delete_tags()
            .set_resources(Some(retire.to_vec()))
            .tags(aws_sdk_ec2::types::Tag::builder().key(RETIRE_TAG).build())
            .send()
            .await
            .map(drop)
            .map_err(|error| AwsError::call("DeleteTags", &error))
    }

    /// The group on `version` of `template` (the run's new one when `None` is not
    /// given) with `capacity`.
    pub async fn update_group(
        &self,
        group: &str,
        template: Option<(&str, String)>,
        capacity: Capacity,
    ) -> Result<(), AwsError> {
        let mut request = self
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .min_size(int(capacity.min))
            .max_size(int(capacity.max))
            .desired_capacity(int(capacity.desired));
        if let Some((template, version)) = template {
            request = request.launch_template(
                LaunchTemplateSpecification::builder().launch_template_id(template).version(version).build(),
            );
        }
        request.send().await.map(drop).map_err(|error| call("UpdateAutoScalingGroup", &error))
    }

    /// The group's instances: (id, lifecycle state, health).
    async fn members(&self, group: &str) -> Result<Vec<(String, String, String)>, AwsError> {
        Ok(self
            .describe_group(group)
            .await?
            .instances()
            .iter()
            .map(|instance| {
                (
                    instance.instance_id().unwrap_or_default().to_owned(),
                    instance.lifecycle_state().map_or_else(String::new, |state| state.as_str().to_owned()),
                    instance.health_status().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }

    /// Waits until `count` instances of `group` that are not in `old` are in
    /// service and healthy, each on `image`; their ids and addresses, by id.
    pub async fn wait_for_group(
        &self,
        group: &str,
        count: usize,
        old: &[String],
        image: &str,
        timeout: u32,
    ) -> Result<Vec<LaunchedInstance>, AwsError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(timeout));
        loop {
            let mut new: Vec<String> = self
                .members(group)
                .await?
                .into_iter()
                .filter(|(id, lifecycle, health)| !old.contains(id) && lifecycle == "InService" && health == "Healthy")
                .map(|(id, _, _)| id)
                .collect();
            new.sort();
            if new.len() >= count {
                new.truncate(count);
                return self.addresses_on_image(&new, image).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AwsError::Answer(format!(
                    "{} of {count} new instances of `{group}` were in service after {timeout}s",
                    new.len()
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Each of `ids` with its address, after checking it runs `image`: an
    /// instance on another image is not one this deploy made.
    async fn addresses_on_image(&self, ids: &[String], image: &str) -> Result<Vec<LaunchedInstance>, AwsError> {
        let found = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|error| AwsError::call("DescribeInstances", &error))?;
        let mut instances = Vec::new();
        for instance in found.reservations().iter().flat_map(aws_sdk_ec2::types::Reservation::instances) {
            let id = instance.instance_id().unwrap_or_default().to_owned();
            if instance.image_id() != Some(image) {
                return Err(AwsError::Answer(format!(
                    "instance {id} runs {} instead of the new image {image}",
                    instance.image_id().unwrap_or("no image")
                )));
            }
            instances.push(self.reachable(instance)?);
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(instances)
    }

    /// Terminates each of `instances` in `group`, decrementing its capacity.
    pub async fn cull(&self, group: &str, instances: &[String]) -> Result<(), AwsError> {
        let members: Vec<String> = self.members(group).await?.into_iter().map(|(id, _, _)| id).collect();
        for id in instances.iter().filter(|id| members.contains(id)) {
            self.autoscaling
                .terminate_instance_in_auto_scaling_group()
                .instance_id(id)
                .should_decrement_desired_capacity(true)
                .send()
                .await
                .map_err(|error| call("TerminateInstanceInAutoScalingGroup", &error))?;
        }
        Ok(())
    }

    /// Puts one batch of a serial deploy back, when its old instances are all
    /// still in the group: its `new` instances go (decrementing), and the group
    /// gets `version` and `capacity`. When some were culled already, the batch's
    /// new instances must stay (they serve in the old ones' place): an error
    /// saying so, which makes the run partial.
    pub async fn scale_back_batch(
        &self,
        group: &str,
        new: &[String],
        old: &[String],
        (template, version): (&str, u64),
        capacity: Capacity,
    ) -> Result<(), AwsError> {
        let members: Vec<String> = self.members(group).await?.into_iter().map(|(id, _, _)| id).collect();
        if let Some(gone) = old.iter().find(|id| !members.contains(id)) {
            return Err(AwsError::Answer(format!(
                "old instance {gone} was culled already: this batch's new instances ({}) stay on the new release",
                new.join(", ")
            )));
        }
        self.cull(group, new).await?;
        self.update_group(group, Some((template, version.to_string())), capacity).await
    }

    /// Puts a scaled-out group back: every instance not in `keep` goes
    /// (decrementing), then the group gets `version` and `capacity`.
    pub async fn scale_back(
        &self,
        group: &str,
        template: &str,
        version: u64,
        capacity: Capacity,
        keep: &[String],
    ) -> Result<Vec<String>, AwsError> {
        let added: Vec<String> =
            self.members(group).await?.into_iter().map(|(id, _, _)| id).filter(|id| !keep.contains(id)).collect();
        self.cull(group, &added).await?;
        self.update_group(group, Some((template, version.to_string())), capacity).await?;
        Ok(added)
    }
}
