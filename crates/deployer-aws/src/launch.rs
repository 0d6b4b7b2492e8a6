//! Servers `create_environment` launches: `RunInstances` with the tags set at
//! launch (so a server is never untagged), a wait until every one runs, and
//! the calls that act on exactly these instances afterwards (terminate, tag).

use std::time::Duration;

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, InstanceStateName, InstanceType, Placement, ResourceType, Tag,
    TagSpecification, VolumeType,
};
use deployer_exec::LaunchedInstance;
use deployer_plan::LaunchSpec;

use crate::{Aws, AwsError};

impl Aws {
    /// Launches `count` instances as `spec` says and waits until they all run.
    /// When they do not (an instance stops, the wait times out, one lacks the
    /// address deployer connects to), every instance of the call is terminated
    /// before the error returns: a failed launch leaves nothing running.
    pub async fn launch(&self, spec: &LaunchSpec, count: usize) -> Result<Vec<LaunchedInstance>, AwsError> {
        let count = i32::try_from(count).map_err(|_| AwsError::Answer("too many servers in one launch".to_owned()))?;
        let tags = spec.tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build());
        let mut request = self
            .ec2
            .run_instances()
            .image_id(&spec.image)
            .instance_type(InstanceType::from(spec.instance_type.as_str()))
            .min_count(count)
            .max_count(count)
            .client_token(&spec.client_token)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(tags.clone().collect()))
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder().resource_type(ResourceType::Volume).set_tags(Some(tags.collect())).build(),
            );
        match (&spec.subnet, &spec.zone) {
            (Some(subnet), _) => request = request.subnet_id(subnet),
            (None, Some(zone)) => {
                request = request.placement(Placement::builder().availability_zone(self.zone_name(zone)).build());
            }
            (None, None) => {}
        }
        for group in &spec.security_groups {
            // In a VPC only ids work; `FabulAWS`'s names are for the default VPC.
            request = if group.starts_with("sg-") {
                request.security_group_ids(group)
            } else {
                request.security_groups(group)
            };
        }
        if let Some(key_name) = &spec.key_name {
            request = request.key_name(key_name);
        }
        if let Some(volume) = &spec.volume {
            let mut ebs = EbsBlockDevice::builder()
                .volume_size(i32::try_from(volume.gigabytes).unwrap_or(i32::MAX))
                .encrypted(volume.encrypted)
                .delete_on_termination(true);
            if let Some(kind) = &volume.kind {
                ebs = ebs.volume_type(VolumeType::from(kind.as_str()));
            }
            request = request
                .block_device_mappings(BlockDeviceMapping::builder().device_name("/dev/sdf").ebs(ebs.build()).build());
        }
        let launched = request.send().await.map_err(|error| AwsError::call("RunInstances", &error))?;
        let ids: Vec<String> =
            launched.instances().iter().filter_map(|instance| instance.instance_id()).map(str::to_owned).collect();
        match self.wait_running(&ids, spec.running_timeout).await {
            Ok(instances) if instances.len() == ids.len() => Ok(instances),
            Ok(instances) => {
                let _ = self.terminate(&ids).await;
                Err(AwsError::Answer(format!("asked for {count} servers, AWS launched {}", instances.len())))
            }
            Err(error) => {
                // Best effort: the error that matters is the one that stopped the launch.
                let _ = self.terminate(&ids).await;
                Err(error)
            }
        }
    }

    /// Waits until every one of `ids` is `running`, then reads its address.
    async fn wait_running(&self, ids: &[String], timeout: u32) -> Result<Vec<LaunchedInstance>, AwsError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(timeout));
        loop {
            let found = self
                .ec2
                .describe_instances()
                .set_instance_ids(Some(ids.to_vec()))
                .send()
                .await
                .map_err(|error| AwsError::call("DescribeInstances", &error))?;
            let instances: Vec<_> =
                found.reservations().iter().flat_map(aws_sdk_ec2::types::Reservation::instances).collect();
            let mut running = Vec::new();
            for instance in &instances {
                let id = instance.instance_id().unwrap_or_default();
                match instance.state().and_then(|state| state.name()) {
                    Some(InstanceStateName::Running) => running.push(*instance),
                    Some(InstanceStateName::Pending) | None => {}
                    Some(other) => {
                        return Err(AwsError::Answer(format!(
                            "instance {id} is {} instead of running",
                            other.as_str()
                        )));
                    }
                }
            }
            if running.len() == ids.len() {
                return running.into_iter().map(|instance| self.reachable(instance)).collect();
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AwsError::Answer(format!(
                    "{} of {} servers were running after {timeout}s (`aws.timeouts.running`)",
                    running.len(),
                    ids.len()
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Terminates exactly `ids`.
    pub async fn terminate(&self, ids: &[String]) -> Result<(), AwsError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.ec2
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map(drop)
            .map_err(|error| AwsError::call("TerminateInstances", &error))
    }

    /// Sets `tags` on exactly `ids`.
    pub async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), AwsError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.ec2
            .create_tags()
            .set_resources(Some(ids.to_vec()))
            .set_tags(Some(tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()))
            .send()
            .await
            .map(drop)
            .map_err(|error| AwsError::call("CreateTags", &error))
    }

    /// `FabulAWS`'s zone letter (`e`) is a zone of the client's region.
    fn zone_name(&self, zone: &str) -> String {
        match self.ec2.config().region() {
            Some(region) if zone.len() == 1 => format!("{region}{zone}"),
            _ => zone.to_owned(),
        }
    }
}
