//! What deployer needs to launch servers on EC2 (`create_environment`), from
//! `FabulAWS`'s keys: the base image, and per environment and role the instance
//! type, security groups, data volume and how many servers; the zones and their
//! subnets. Validated here; `deployer-aws` makes the calls.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A value looked up by environment and role with `FabulAWS`'s `_find`: one value
/// for everything, or a mapping whose keys are environments (each one value, or a
/// value per role) or roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ByEnvironmentRole<T> {
    Map(IndexMap<String, EnvironmentOrRole<T>>),
    One(T),
}

/// The value under one key of a [`ByEnvironmentRole`] mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvironmentOrRole<T> {
    ByRole(IndexMap<String, T>),
    One(T),
}

impl<T> ByEnvironmentRole<T> {
    /// `_find(dict, environment, role)`: `[environment][role]` (or `[environment]`
    /// when it is one value), else `[role]`, else the one value.
    pub fn find(&self, environment: &str, role: &str) -> Option<&T> {
        match self {
            Self::One(value) => Some(value),
            Self::Map(map) => match map.get(environment) {
                Some(EnvironmentOrRole::ByRole(roles)) => roles.get(role),
                Some(EnvironmentOrRole::One(value)) => Some(value),
                None => match map.get(role) {
                    Some(EnvironmentOrRole::One(value)) => Some(value),
                    _ => None,
                },
            },
        }
    }
}

/// `FabulAWS`'s EC2 keys, as far as launching servers needs them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ec2Settings {
    /// `instance_settings.ami`: the image servers are launched from.
    pub ami: Option<String>,
    /// `instance_settings.ebs_encrypt`: encrypt the data volume.
    pub ebs_encrypt: bool,
    pub instance_types: Option<ByEnvironmentRole<String>>,
    pub security_groups: Option<ByEnvironmentRole<Vec<String>>>,
    /// Gigabytes of the data volume (`/dev/sdf`); none without it.
    pub volume_sizes: Option<ByEnvironmentRole<u32>>,
    pub volume_types: Option<ByEnvironmentRole<String>>,
    /// Zone names or letters (`e` means the region's `e` zone), in order.
    pub avail_zones: Vec<String>,
    /// zone → subnet. When set, nothing is launched outside these subnets.
    pub subnets: IndexMap<String, String>,
}

impl Ec2Settings {
    /// The zones servers are spread over, in order: `avail_zones`, else the zones
    /// `subnets` names.
    pub fn zones(&self) -> Vec<String> {
        if self.avail_zones.is_empty() { self.subnets.keys().cloned().collect() } else { self.avail_zones.clone() }
    }
}

/// How long deployer waits for what it launched, in seconds (`aws.timeouts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AwsTimeouts {
    /// For a launched instance to be `running`.
    pub running: u32,
    /// For a running instance to accept an ssh connection.
    pub ssh: u32,
    /// For an instance refresh (`aws.deploy_serial: refresh`) to finish.
    pub refresh: u32,
    /// For a server taken out of its target groups to finish its connections
    /// (AWS's deregistration delay is 300 s unless the target group says less).
    pub drained: u32,
    /// For a server put back in its target groups to be healthy there.
    pub healthy: u32,
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        Self { running: 300, ssh: 300, refresh: 3600, drained: 600, healthy: 600 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(text: &str) -> ByEnvironmentRole<T> {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn find_follows_fabulaws() {
        let types: ByEnvironmentRole<String> =
            parse("production: {web: c5.large, worker: m5.large}\nstaging: t3.small\nworker: m5.xlarge\n");
        assert_eq!(types.find("production", "web").map(String::as_str), Some("c5.large"));
        assert_eq!(types.find("production", "cache"), None, "[environment] wins and has no cache");
        assert_eq!(types.find("staging", "web").map(String::as_str), Some("t3.small"));
        assert_eq!(types.find("testing", "worker").map(String::as_str), Some("m5.xlarge"));
        assert_eq!(types.find("testing", "web"), None);
        let one: ByEnvironmentRole<u32> = parse("10");
        assert_eq!(one.find("any", "role"), Some(&10));
        let groups: ByEnvironmentRole<Vec<String>> = parse("web: [a, b]\nproduction: {worker: [c]}\n");
        assert_eq!(groups.find("staging", "web"), Some(&vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(groups.find("production", "worker"), Some(&vec!["c".to_owned()]));
    }
}
