//! Servers outside an Auto Scaling group that serve behind `ELBv2` target groups
//! (`target_groups`): a server leaves them and its connections drain before
//! `deploy_serial` switches it, and it rejoins them, healthy, after
//! (`FabulAWS`'s `deploy_serial_without_autoscaling`, on target groups).

use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum, TargetTypeEnum};
use deployer_config::SshAddress;

use crate::targets::call;
use crate::{Aws, AwsError};

/// A target group, as its ARN and what its targets are.
struct Group {
    arn: String,
    by_address: bool,
}

impl Aws {
    /// Takes the server at `address` out of each of `target_groups` and waits until
    /// none of its connections drains any more.
    pub(crate) async fn leave_target_groups(
        &self,
        address: &str,
        target_groups: &[String],
        timeout: u32,
    ) -> Result<String, AwsError> {
        let groups = self.target_groups(target_groups).await?;
        let mut ids = Vec::new();
        for group in &groups {
            let id = self.target_id(address, group).await?;
            self.elbv2
                .deregister_targets()
                .target_group_arn(&group.arn)
                .targets(TargetDescription::builder().id(&id).build())
                .send()
                .await
                .map_err(|error| call("DeregisterTargets", &error))?;
            ids.push(id);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(timeout));
        loop {
            let mut draining = Vec::new();
            for (group, id) in groups.iter().zip(&ids) {
                if self.target_state(group, id).await? == Some(TargetHealthStateEnum::Draining) {
                    draining.push(group.arn.as_str());
                }
            }
            if draining.is_empty() {
                return Ok(format!("{} out of {} target group(s), drained", ids[0], groups.len()));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AwsError::Answer(format!(
                    "{address} still drains after {timeout}s in {}",
                    draining.join(", ")
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Puts the server at `address` back in each of `target_groups` and waits until
    /// it is healthy in each.
    pub(crate) async fn join_target_groups(
        &self,
        address: &str,
        target_groups: &[String],
        timeout: u32,
    ) -> Result<String, AwsError> {
        let groups = self.target_groups(target_groups).await?;
        let mut id = String::new();
        for group in &groups {
            id = self.target_id(address, group).await?;
            self.register_targets(std::slice::from_ref(&group.arn), std::slice::from_ref(&id), timeout).await?;
        }
        Ok(format!("{id} healthy in {} target group(s)", groups.len()))
    }

    /// Each of `names` (names or ARNs) as AWS knows it.
    async fn target_groups(&self, names: &[String]) -> Result<Vec<Group>, AwsError> {
        let (arns, plain): (Vec<String>, Vec<String>) =
            names.iter().cloned().partition(|name| name.starts_with("arn:"));
        let mut found = Vec::new();
        for (by_arn, list) in [(true, arns), (false, plain)] {
            if list.is_empty() {
                continue;
            }
            let request = self.elbv2.describe_target_groups();
            let request =
                if by_arn { request.set_target_group_arns(Some(list)) } else { request.set_names(Some(list)) };
            let answer = request.send().await.map_err(|error| call("DescribeTargetGroups", &error))?;
            for group in answer.target_groups() {
                found.push(Group {
                    arn: group.target_group_arn().unwrap_or_default().to_owned(),
                    by_address: group.target_type() == Some(&TargetTypeEnum::Ip),
                });
            }
        }
        Ok(found)
    }

    /// What `group` calls the server at `address`: the address itself for an
    /// `ip` target group, else the id of the one running instance that has it.
    async fn target_id(&self, address: &str, group: &Group) -> Result<String, AwsError> {
        if group.by_address {
            return Ok(address.to_owned());
        }
        let filter = match self.ssh_address {
            SshAddress::PublicDnsName => "dns-name",
            SshAddress::PublicIpAddress => "ip-address",
            SshAddress::PrivateDnsName => "private-dns-name",
            SshAddress::PrivateIpAddress => "private-ip-address",
        };
        let answer = self
            .ec2
            .describe_instances()
            .filters(Filter::builder().name(filter).values(address).build())
            .filters(Filter::builder().name("instance-state-name").values("running").build())
            .send()
            .await
            .map_err(|error| AwsError::call("DescribeInstances", &error))?;
        let ids: Vec<&str> = answer
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .filter_map(|instance| instance.instance_id())
            .collect();
        match ids.as_slice() {
            [id] => Ok((*id).to_owned()),
            [] => Err(AwsError::Answer(format!("no running instance has the {filter} {address}"))),
            _ => Err(AwsError::Answer(format!("{} running instances have the {filter} {address}", ids.len()))),
        }
    }

    /// The state of `id` in `group`; `None` when the group does not list it.
    async fn target_state(&self, group: &Group, id: &str) -> Result<Option<TargetHealthStateEnum>, AwsError> {
        let health = self
            .elbv2
            .describe_target_health()
            .target_group_arn(&group.arn)
            .targets(TargetDescription::builder().id(id).build())
            .send()
            .await
            .map_err(|error| call("DescribeTargetHealth", &error))?;
        Ok(health
            .target_health_descriptions()
            .iter()
            .find(|description| description.target().and_then(|target| target.id()) == Some(id))
            .and_then(|description| description.target_health())
            .and_then(|health| health.state())
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    //! What moto cannot emulate: a deregistered target that drains for a while
    //! (AWS's deregistration delay), against a stub of the load balancing API.

    use crate::stub::{Answer, ELBV2, Stub, ok};

    const GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0abc";

    /// An `ip` target group: the address is the target, no instance lookup.
    fn groups() -> (&'static str, Vec<Answer>) {
        let inner = format!(
            "<TargetGroups><member><TargetGroupArn>{GROUP}</TargetGroupArn><TargetGroupName>web</TargetGroupName>\
             <TargetType>ip</TargetType></member></TargetGroups>"
        );
        ("DescribeTargetGroups", vec![ok(ELBV2, "DescribeTargetGroups", &inner)])
    }

    fn health(state: &str) -> Answer {
        ok(
            ELBV2,
            "DescribeTargetHealth",
            &format!(
                "<TargetHealthDescriptions><member><Target><Id>10.0.1.4</Id></Target><TargetHealth><State>{state}\
                 </State></TargetHealth></member></TargetHealthDescriptions>"
            ),
        )
    }

    #[tokio::test]
    async fn a_server_leaving_waits_until_its_connections_drained() {
        let answers = vec![health("draining"), health("draining"), health("unused")];
        let stub = Stub::serve(ELBV2, vec![groups(), ("DescribeTargetHealth", answers)]);
        let note = stub.client().await.leave_target_groups("10.0.1.4", &[GROUP.to_owned()], 600).await.unwrap();
        assert_eq!(note, "10.0.1.4 out of 1 target group(s), drained");
        assert!(
            stub.body("DeregisterTargets").contains("Targets.member.1.Id=10.0.1.4"),
            "{}",
            stub.body("DeregisterTargets")
        );
        assert_eq!(stub.actions().iter().filter(|action| *action == "DescribeTargetHealth").count(), 3);
    }

    #[tokio::test]
    async fn a_server_still_draining_when_the_wait_ends_fails_the_step() {
        let stub = Stub::serve(ELBV2, vec![groups(), ("DescribeTargetHealth", vec![health("draining")])]);
        let error = stub.client().await.leave_target_groups("10.0.1.4", &[GROUP.to_owned()], 1).await.unwrap_err();
        assert!(error.to_string().contains("10.0.1.4 still drains after 1s in arn:aws:"), "{error}");
    }
}
