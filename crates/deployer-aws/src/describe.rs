//! `deployer describe ENV`: what AWS says about an environment, read-only: every
//! instance tagged with its deployment and environment (whatever its role tag
//! or state, so servers being built or retired show too), and its Auto Scaling
//! group with capacity, launch template version and suspended processes.

use serde::Serialize;

use crate::{Aws, AwsError};

#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub instances: Vec<InstanceInfo>,
    pub group: Option<GroupInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceInfo {
    pub id: String,
    /// The `role` tag as it is (`web`, `web-PENDING`, `worker-OLD`, or none).
    pub role: Option<String>,
    pub state: String,
    pub private_ip_address: Option<String>,
    pub public_dns_name: Option<String>,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    pub availability_zone: Option<String>,
    /// RFC 3339.
    pub launch_time: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupInfo {
    pub name: String,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    /// `lt-... version N`, or the launch configuration's name (which deployer refuses to deploy with).
    pub launch_template: Option<String>,
    pub launch_configuration: Option<String>,
    pub suspended: Vec<String>,
    pub instances: Vec<GroupInstance>,
    /// A deploy that marked the group and did not finish (or is running now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<deployer_plan::DeployMark>,
    /// What is changing the group now: an instance refresh, scaling activities.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub busy: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupInstance {
    pub id: String,
    pub lifecycle: String,
    pub health: String,
}

impl Aws {
    /// Describes `deployment`'s `environment`, and `group` when the configuration
    /// names one (a group that does not exist is an error naming it).
    pub async fn describe(
        &self,
        deployment: &str,
        environment: &str,
        group: Option<&str>,
    ) -> Result<Description, AwsError> {
        let instances = self.tagged_instances(deployment, environment).await?;
        let group = match group {
            Some(name) => Some(self.group_info(name).await?),
            None => None,
        };
        Ok(Description { instances, group })
    }

    async fn tagged_instances(&self, deployment: &str, environment: &str) -> Result<Vec<InstanceInfo>, AwsError> {
        let mut found = Vec::new();
        for instance in self.instances_tagged(deployment, environment, false).await? {
            let tag = |key: &str| {
                instance.tags().iter().find(|tag| tag.key() == Some(key)).and_then(|tag| tag.value()).map(str::to_owned)
            };
            found.push(InstanceInfo {
                id: instance.instance_id().unwrap_or_default().to_owned(),
                role: tag("role"),
                state: instance
                    .state()
                    .and_then(|state| state.name())
                    .map_or_else(|| "unknown".to_owned(), |name| name.as_str().to_owned()),
                private_ip_address: instance.private_ip_address().map(str::to_owned),
                public_dns_name: instance.public_dns_name().filter(|name| !name.is_empty()).map(str::to_owned),
                instance_type: instance.instance_type().map(|kind| kind.as_str().to_owned()),
                image_id: instance.image_id().map(str::to_owned),
                availability_zone: instance
                    .placement()
                    .and_then(|placement| placement.availability_zone())
                    .map(str::to_owned),
                launch_time: instance
                    .launch_time()
                    .and_then(|time| time.fmt(aws_sdk_ec2::primitives::DateTimeFormat::DateTime).ok()),
            });
        }
        found.sort_by(|a, b| (&a.role, &a.launch_time, &a.id).cmp(&(&b.role, &b.launch_time, &b.id)));
        Ok(found)
    }

    async fn group_info(&self, name: &str) -> Result<GroupInfo, AwsError> {
        let group = &self.describe_group(name).await?;
        let launch_template = group.launch_template().map(|template| {
            format!(
                "{} version {}",
                template.launch_template_name().or(template.launch_template_id()).unwrap_or("?"),
                template.version().unwrap_or("$Default")
            )
        });
        let tags = crate::autoscaling::group_tags(group);
        Ok(GroupInfo {
            deploy: self.deploy_mark(&tags).await?,
            busy: self.busy(name).await?,
            name: name.to_owned(),
            min: group.min_size().unwrap_or_default(),
            desired: group.desired_capacity().unwrap_or_default(),
            max: group.max_size().unwrap_or_default(),
            launch_template,
            launch_configuration: group.launch_configuration_name().map(str::to_owned),
            suspended: group
                .suspended_processes()
                .iter()
                .filter_map(|process| process.process_name())
                .map(str::to_owned)
                .collect(),
            instances: group
                .instances()
                .iter()
                .map(|instance| GroupInstance {
                    id: instance.instance_id().unwrap_or_default().to_owned(),
                    lifecycle: instance.lifecycle_state().map_or_else(String::new, |state| state.as_str().to_owned()),
                    health: instance.health_status().unwrap_or_default().to_owned(),
                })
                .collect(),
        })
    }
}
