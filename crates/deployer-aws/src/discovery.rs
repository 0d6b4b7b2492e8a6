//! `FabulAWS`'s discovery: the running instances tagged with the deployment and
//! environment, grouped by their `role` tag, one `DescribeInstances` (paginated)
//! per run. Instances being built (`web-PENDING`) or retired (`web-OLD`) carry
//! other role values, so they are never found as `web`.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Instance as Ec2Instance};
use deployer_config::{SshAddress, check_name};

use crate::{Aws, AwsError};

/// One running instance, as deployer uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// The address `ec2_attr_for_ssh` names.
    pub address: String,
    pub role: String,
}

/// The running instances of one deployment's environment, by role.
#[derive(Debug, Clone, Default)]
pub struct TaggedFleet {
    pub by_role: BTreeMap<String, Vec<Instance>>,
}

impl TaggedFleet {
    /// The instances playing `role`, in launch order (then by id).
    pub fn role(&self, role: &str) -> &[Instance] {
        self.by_role.get(role).map_or(&[], Vec::as_slice)
    }
}

impl Aws {
    /// Every running instance tagged `deployment` and `environment`, grouped by
    /// its `role` tag. An instance without the address `ssh_address` names, or
    /// whose role is not a valid name, is an error naming it: a host silently left
    /// out of a deploy is worse than a deploy that does not start.
    pub async fn tagged_fleet(
        &self,
        deployment: &str,
        environment: &str,
        ssh_address: SshAddress,
    ) -> Result<TaggedFleet, AwsError> {
        let mut found: Vec<(Option<aws_sdk_ec2::primitives::DateTime>, Instance)> = Vec::new();
        for instance in self.instances_tagged(deployment, environment, true).await? {
            if let Some(found_instance) = instance_of(&instance, ssh_address)? {
                found.push((instance.launch_time().copied(), found_instance));
            }
        }
        found.sort_by(|(a_time, a), (b_time, b)| {
            a_time.map(|time| time.as_nanos()).cmp(&b_time.map(|time| time.as_nanos())).then_with(|| a.id.cmp(&b.id))
        });
        let mut fleet = TaggedFleet::default();
        for (_, instance) in found {
            fleet.by_role.entry(instance.role.clone()).or_default().push(instance);
        }
        Ok(fleet)
    }
}

impl Aws {
    /// Every instance tagged `deployment` and `environment` (only the running ones
    /// with `running_only`), all pages of one `DescribeInstances`.
    pub(crate) async fn instances_tagged(
        &self,
        deployment: &str,
        environment: &str,
        running_only: bool,
    ) -> Result<Vec<Ec2Instance>, AwsError> {
        let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
        let mut request = self
            .ec2
            .describe_instances()
            .filters(filter("tag:deployment", deployment))
            .filters(filter("tag:environment", environment));
        if running_only {
            request = request.filters(filter("instance-state-name", "running"));
        }
        let mut pages = request.into_paginator().send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| AwsError::call("DescribeInstances", &error))?;
            instances
                .extend(page.reservations().iter().flat_map(|reservation| reservation.instances().iter().cloned()));
        }
        Ok(instances)
    }
}

fn instance_of(instance: &Ec2Instance, ssh_address: SshAddress) -> Result<Option<Instance>, AwsError> {
    let id = instance.instance_id().unwrap_or("an instance without an id").to_owned();
    let tag = |key: &str| instance.tags().iter().find(|tag| tag.key() == Some(key)).and_then(|tag| tag.value());
    let Some(role) = tag("role") else { return Ok(None) };
    if check_name(role).is_err() {
        return Err(AwsError::Answer(format!("instance {id}: its `role` tag `{role}` is not a role name")));
    }
    let Some(address) = address_of(instance, ssh_address) else {
        return Err(AwsError::Answer(format!(
            "instance {id} (role `{role}`) has no {} (`ec2_attr_for_ssh`); choose an address it has",
            attribute_name(ssh_address)
        )));
    };
    Ok(Some(Instance { id, address, role: role.to_owned() }))
}

/// The address `ec2_attr_for_ssh` names, when the instance has one.
pub(crate) fn address_of(instance: &Ec2Instance, ssh_address: SshAddress) -> Option<String> {
    match ssh_address {
        SshAddress::PublicDnsName => instance.public_dns_name(),
        SshAddress::PublicIpAddress => instance.public_ip_address(),
        SshAddress::PrivateDnsName => instance.private_dns_name(),
        SshAddress::PrivateIpAddress => instance.private_ip_address(),
    }
    .filter(|address| !address.is_empty())
    .map(str::to_owned)
}

fn attribute_name(address: SshAddress) -> &'static str {
    match address {
        SshAddress::PublicDnsName => "public_dns_name",
        SshAddress::PublicIpAddress => "public_ip_address",
        SshAddress::PrivateDnsName => "private_dns_name",
        SshAddress::PrivateIpAddress => "private_ip_address",
    }
}

impl Aws {
    /// An instance deployer just launched (or its group did), with the address it
    /// connects to; one without that address is an error naming it.
    pub(crate) fn reachable(&self, instance: &Ec2Instance) -> Result<deployer_exec::LaunchedInstance, AwsError> {
        let id = instance.instance_id().unwrap_or_default().to_owned();
        let address = address_of(instance, self.ssh_address).ok_or_else(|| {
            AwsError::Answer(format!("instance {id} has no {} (`ec2_attr_for_ssh`)", attribute_name(self.ssh_address)))
        })?;
        Ok(deployer_exec::LaunchedInstance { id, address })
    }
}
