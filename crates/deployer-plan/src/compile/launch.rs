//! `create_environment`'s servers: the launch of every server a role found by
//! tags is missing, before anything else, and its retagging once the servers
//! are set up and deployed, after everything else. The launch's undo terminates
//! exactly the instances it launched.

use std::collections::BTreeMap;

use super::Compiler;
use super::cloud::controller_phase;
use crate::cloud::{CloudAction, CloudStep, DataVolume, LaunchSpec};
use crate::error::PlanError;
use crate::model::Phase;

/// A `client_token` is at most 64 ASCII characters.
const CLIENT_TOKEN_LENGTH: usize = 64;

impl Compiler<'_> {
    /// The plan hosts that are servers this run launches itself (not the ones a
    /// group launches).
    pub(super) fn launch_slots(&self) -> Vec<usize> {
        self.hosts
            .iter()
            .enumerate()
            .filter(|(_, host)| host.launch.as_ref().is_some_and(|slot| !slot.by_group))
            .map(|(index, _)| index)
            .collect()
    }

    /// Launch every slot (one call per role and zone), then wait for ssh on each.
    /// Until the run is done, their `role` tag is `<role>-<state>` (`PENDING` for
    /// a server being set up, `BUILDER` for an image builder), which discovery
    /// never takes for the role.
    pub(super) fn launch_phases(&self, slots: &[usize], state: &str) -> Result<Vec<Phase>, PlanError> {
        let mut groups: BTreeMap<(String, Option<String>, Option<String>), Vec<usize>> = BTreeMap::new();
        for &index in slots {
            let slot = self.hosts[index].launch.as_ref().expect("a launch slot");
            groups.entry((slot.role.clone(), slot.zone.clone(), slot.subnet.clone())).or_default().push(index);
        }
        let mut steps = Vec::new();
        for ((role, zone, subnet), hosts) in groups {
            let spec = self.launch_spec(&role, zone, subnet, state)?;
            let title = format!("launch {} `{role}` server(s)", hosts.len());
            steps.push(CloudStep { title, action: CloudAction::LaunchInstances { hosts, spec: Box::new(spec) } });
        }
        let description = if state == "BUILDER" {
            "launch the server the image is built on"
        } else {
            "launch the servers the environment is missing"
        };
        let mut launch = controller_phase("launch", description, steps);
        launch.cloud_undo = vec![CloudStep {
            title: "terminate the servers this run launched".to_owned(),
            action: CloudAction::TerminateInstances { hosts: slots.to_vec() },
        }];
        let reach = controller_phase(
            "reach",
            "wait until the new servers accept ssh",
            vec![CloudStep {
                title: "wait for ssh on the new servers".to_owned(),
                action: CloudAction::WaitForSsh { hosts: slots.to_vec(), timeout: self.config.aws.timeouts.ssh },
            }],
        );
        Ok(vec![launch, reach])
    }

    /// Once set up and deployed, the new servers take their role's tags, which
    /// makes them hosts of the role for every later run.
    pub(super) fn retag_phase(&self, slots: &[usize]) -> Phase {
        let mut by_role: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &index in slots {
            let slot = self.hosts[index].launch.as_ref().expect("a launch slot");
            by_role.entry(slot.role.as_str()).or_default().push(index);
        }
        let steps = by_role
            .into_iter()
            .map(|(role, hosts)| CloudStep {
                title: format!("tag the new `{role}` server(s)"),
                action: CloudAction::TagInstances {
                    hosts,
                    tags: vec![("role".to_owned(), role.to_owned()), ("Name".to_owned(), self.server_name(role))],
                },
            })
            .collect();
        controller_phase("retag", "give the new servers their role", steps)
    }

    /// `FabulAWS`'s instance name: `<deployment>_<environment>_<role>`.
    pub(super) fn server_name(&self, role: &str) -> String {
        format!("{}_{}_{role}", self.input.deployment, self.environment.name)
    }

    fn launch_spec(
        &self,
        role: &str,
        zone: Option<String>,
        subnet: Option<String>,
        state: &str,
    ) -> Result<LaunchSpec, PlanError> {
        let ec2 = &self.config.ec2;
        let environment = &self.environment.name;
        let missing = |what: &str| {
            PlanError::Unsafe(format!(
                "{} launches `{role}` servers in `{environment}`, which needs {what}",
                self.input.command.name()
            ))
        };
        let image = ec2.ami.clone().ok_or_else(|| missing("an image: set `instance_settings.ami`"))?;
        let instance_type = ec2
            .instance_types
            .as_ref()
            .and_then(|types| types.find(environment, role))
            .cloned()
            .ok_or_else(|| missing(&format!("an instance type: set `instance_types.{environment}.{role}`")))?;
        if subnet.is_none() && self.config.aws.endpoint_url.is_some() {
            // An emulator gives an instance without a subnet made-up addresses
            // that may belong to anyone: nothing is launched where it could be dialled.
            return Err(missing("a subnet when `aws.endpoint_url` names an emulator: set `subnets`"));
        }
        let volume = find(ec2.volume_sizes.as_ref(), environment, role).map(|&gigabytes| DataVolume {
            gigabytes,
            kind: find(ec2.volume_types.as_ref(), environment, role).cloned(),
            encrypted: ec2.ebs_encrypt,
        });
        let deployment = self.input.deployment;
        let pending = format!("{role}-{state}");
        let tags = vec![
            ("deployment".to_owned(), deployment.to_owned()),
            ("environment".to_owned(), environment.clone()),
            ("role".to_owned(), pending.clone()),
            ("Name".to_owned(), self.server_name(&pending)),
        ];
        let mut client_token = format!("{}-{role}-{}", self.input.invocation.deploy_id, zone.as_deref().unwrap_or(""));
        client_token.truncate(CLIENT_TOKEN_LENGTH);
        Ok(LaunchSpec {
            role: role.to_owned(),
            image,
            instance_type,
            zone,
            subnet,
            security_groups: find(ec2.security_groups.as_ref(), environment, role).cloned().unwrap_or_default(),
            key_name: self.config.aws.key_name.clone(),
            volume,
            tags,
            running_timeout: self.config.aws.timeouts.running,
            client_token,
        })
    }
}

/// `_find` in a key the file may not have.
fn find<'m, T>(map: Option<&'m deployer_config::ByEnvironmentRole<T>>, environment: &str, role: &str) -> Option<&'m T> {
    map.and_then(|map| map.find(environment, role))
}
