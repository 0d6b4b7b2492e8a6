//! The `aws:` section and `FabulAWS`'s `region` and `ec2_attr_for_ssh`: how deployer
//! reaches the AWS API and which hosts it finds there. Nothing here talks to AWS;
//! `deployer-aws` does, from these validated settings.

use indexmap::IndexMap;

use super::{TopLevel, Validator};
use crate::key_path::KeyPath;
use crate::model::{AutoScalingGroups, AwsSettings, ByDeployment, SshAddress, TargetGroups};
use crate::raw::{RawAws, RawDiscover};

impl Validator<'_> {
    /// `FabulAWS`'s `auto_scaling_groups` (`{<deployment>: {<environment>: name}}`,
    /// `{<deployment>: name}` or `{<environment>: name}`) and `target_groups`
    /// (the same, with a list of target group names or ARNs for a name).
    pub(super) fn groups(
        &mut self,
        top: &mut TopLevel,
        deployments: &[String],
        environments: &[String],
    ) -> (AutoScalingGroups, TargetGroups) {
        let keys = (deployments, environments);
        let groups = self
            .by_deployment(top, "auto_scaling_groups", keys, "one group name", |name: &String| vec![check_group(name)]);
        let targets =
            self.by_deployment(top, "target_groups", keys, "a list of target groups", |names: &Vec<String>| {
                names.iter().map(|name| check_target_group(name)).collect()
            });
        (AutoScalingGroups(groups), TargetGroups(targets))
    }

    /// A key looked up by deployment and environment. Every key in it must name
    /// a deployment or an environment, so a misspelling is an error, not a value
    /// that is silently never used; `check` checks each value (each result a
    /// problem of its own).
    fn by_deployment<T: serde::de::DeserializeOwned>(
        &mut self,
        top: &mut TopLevel,
        name: &str,
        (deployments, environments): (&[String], &[String]),
        one: &str,
        check: impl Fn(&T) -> Vec<Result<(), String>>,
    ) -> IndexMap<String, ByDeployment<T>> {
        let path = KeyPath::root().key(name);
        let Some(raw) = self.take::<IndexMap<String, ByDeployment<T>>>(top, name) else {
            return IndexMap::new();
        };
        for (key, value) in &raw {
            let at = path.key(key);
            let is_deployment = deployments.contains(key);
            if !is_deployment && !environments.contains(key) {
                self.problems.value(&at, format!("`{key}` is neither a deployment nor an environment"));
                continue;
            }
            match value {
                ByDeployment::One(value) => {
                    for result in check(value) {
                        self.check(&at, result);
                    }
                }
                ByDeployment::ByEnvironment(values) => {
                    if !is_deployment {
                        self.problems.value(&at, format!("`{key}` is an environment: give {one}"));
                    }
                    for (environment, value) in values {
                        if environments.contains(environment) {
                            let at = at.key(environment);
                            for result in check(value) {
                                self.check(&at, result);
                            }
                        } else {
                            self.problems.value(&at.key(environment), format!("unknown environment `{environment}`"));
                        }
                    }
                }
            }
        }
        raw
    }

    pub(super) fn aws(&mut self, top: &mut TopLevel, names: &super::ec2::Names<'_>) -> AwsSettings {
        let path = KeyPath::root().key("aws");
        let raw: RawAws = self.take(top, "aws").unwrap_or_default();
        let top_region = self.take::<String>(top, "region");
        let ssh_address = self.take::<SshAddress>(top, "ec2_attr_for_ssh").unwrap_or_default();
        // `aws.region` wins over FabulAWS's top-level `region`.
        let (region, region_path) = match (raw.region, top_region) {
            (Some(region), _) => (Some(region), path.key("region")),
            (None, region) => (region, KeyPath::root().key("region")),
        };
        if let Some(region) = &region {
            self.check(&region_path, check_region(region));
        }
        if let Some(profile) = &raw.profile {
            self.check(&path.key("profile"), check_profile(profile));
        }
        if let Some(url) = &raw.endpoint_url {
            self.check(&path.key("endpoint_url"), check_endpoint(url));
        }
        if let Some(key_name) = &raw.key_name {
            self.check(&path.key("key_name"), super::ec2::check_key_name(key_name));
        }
        if let Some(servers) = &raw.servers {
            self.check_by_environment_role(&path.key("servers"), servers, names, |count: &u32| {
                if *count <= 1000 { Ok(()) } else { Err(format!("{count} servers of one role is more than 1000")) }
            });
        }
        let launch_attempts = raw.launch_attempts.unwrap_or(3);
        if !(1..=10).contains(&launch_attempts) {
            self.problems.value(&path.key("launch_attempts"), "expected 1 to 10 attempts");
        }
        let defaults = crate::ec2::AwsTimeouts::default();
        let timeouts = raw.timeouts.map_or(defaults, |raw| crate::ec2::AwsTimeouts {
            running: raw.running.unwrap_or(defaults.running),
            ssh: raw.ssh.unwrap_or(defaults.ssh),
            refresh: raw.refresh.unwrap_or(defaults.refresh),
            drained: raw.drained.unwrap_or(defaults.drained),
            healthy: raw.healthy.unwrap_or(defaults.healthy),
        });
        for (key, seconds, most) in [
            ("running", timeouts.running, 7200),
            ("ssh", timeouts.ssh, 7200),
            ("refresh", timeouts.refresh, 86_400),
            ("drained", timeouts.drained, 7200),
            ("healthy", timeouts.healthy, 7200),
        ] {
            if !(1..=most).contains(&seconds) {
                self.problems.value(&path.key("timeouts").key(key), format!("expected 1 to {most} seconds"));
            }
        }
        let autoscaling_role = raw.autoscaling_role.unwrap_or_else(|| "web".to_owned());
        if !names.roles.contains(&autoscaling_role) && top.report.used.iter().any(|key| key == "auto_scaling_groups") {
            self.problems.value(
                &path.key("autoscaling_role"),
                format!("`{autoscaling_role}` is not a role of `valid_roles`; set the role the group's servers play"),
            );
        }
        let images_keep = raw.images_keep.unwrap_or(5);
        if !(1..=100).contains(&images_keep) {
            self.problems.value(&path.key("images_keep"), "expected 1 to 100 images");
        }
        AwsSettings {
            deploy_serial: raw.deploy_serial.unwrap_or_default(),
            images_keep,
            autoscaling_role,
            key_name: raw.key_name,
            servers: raw.servers,
            launch_attempts,
            timeouts,
            region,
            profile: raw.profile,
            endpoint_url: raw.endpoint_url,
            discover_by_tags: matches!(raw.discover, Some(RawDiscover::Tags)),
            ssh_address,
        }
    }
}

/// An Auto Scaling group name, as deployer accepts one: AWS allows up to 255
/// characters; deployer takes the ones that never need quoting.
fn check_group(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid { Ok(()) } else { Err(format!("`{name}` is not an auto scaling group name (letters, digits, `-_.`)")) }
}

/// A target group's ARN, or its name (1 to 32 letters, digits and `-`, not at
/// either end), as AWS accepts them; nothing that would need quoting.
fn check_target_group(name: &str) -> Result<(), String> {
    let arn = name.starts_with("arn:")
        && name.contains(":targetgroup/")
        && name.len() <= 2048
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'-' | b'_' | b'.'));
    let plain = (1..=32).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if arn || plain {
        Ok(())
    } else {
        Err(format!("`{name}` is neither a target group name (letters, digits, `-`, at most 32) nor its ARN"))
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
fn check_region(region: &str) -> Result<(), String> {
    let valid = region.len() <= 32
        && region.split('-').count() >= 3
        && region
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && region.rsplit('-').next().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()));
    if valid { Ok(()) } else { Err(format!("`{region}` is not an AWS region name (like `us-east-1`)")) }
}

/// A profile name from `~/.aws/config`.
fn check_profile(profile: &str) -> Result<(), String> {
    let valid = !profile.is_empty()
        && profile.len() <= 128
        && profile.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+'));
    if valid { Ok(()) } else { Err(format!("`{profile}` is not a profile name (letters, digits, `-_.@+`)")) }
}

/// An AWS API endpoint for an emulator (moto, LocalStack): `http(s)://host[:port]`.
fn check_endpoint(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic()) => Ok(()),
        _ => Err(format!("`{url}` is not an http:// or https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(check_region(good).is_ok(), "{good}");
        }
        for bad in ["us-east", "US-EAST-1", "us_east_1", "us-east-1; rm -rf /", "", "us--1"] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
    }

    fn config(groups: &str) -> Result<crate::Config, crate::ConfigErrors> {
        let text = format!(
            "project: myproject\nrepo: /srv/git/x.git\nvalid_roles: [web]\ndeployments: [myproject, other]\n\
             branches: {{staging: main, production: main}}\nenvironments: [staging, production]\n{groups}"
        );
        crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text, &[])
    }

    #[test]
    fn autoscaling_groups_follow_fabulaws_find() {
        let nested =
            config("auto_scaling_groups:\n  myproject: {production: myproject-production-ag}\n  staging: shared-ag\n")
                .unwrap();
        let groups = &nested.autoscaling_groups;
        assert_eq!(groups.group("myproject", "production"), Some("myproject-production-ag"));
        assert_eq!(groups.group("myproject", "staging"), None, "[deployment] wins; it has no staging");
        assert_eq!(groups.group("other", "staging"), Some("shared-ag"));
        let flat = config("auto_scaling_groups: {myproject: one-ag}\n").unwrap();
        assert_eq!(flat.autoscaling_groups.group("myproject", "staging"), Some("one-ag"));
    }

    #[test]
    fn autoscaling_group_keys_and_names_are_checked() {
        let error = config(
            "auto_scaling_groups:\n  myprojet: {production: a}\n  myproject: {prodution: b, staging: \"c;d\"}\n",
        )
        .unwrap_err()
        .to_string();
        for expected in ["auto_scaling_groups.myprojet", "auto_scaling_groups.myproject.prodution"] {
            assert!(error.contains(expected) || format!("{error:?}").contains(expected), "{expected}: {error:?}");
        }
    }

    #[test]
    fn target_groups_follow_fabulaws_find_and_are_names_or_arns() {
        let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0abc1234";
        let nested =
            config(&format!("target_groups:\n  myproject: {{production: [web-a, \"{arn}\"]}}\n  staging: [shared]\n"))
                .unwrap();
        let groups = &nested.target_groups;
        assert_eq!(groups.of("myproject", "production"), ["web-a", arn]);
        assert!(groups.of("myproject", "staging").is_empty(), "[deployment] wins; it has no staging");
        assert_eq!(groups.of("other", "staging"), ["shared"]);
        let error = format!(
            "{:?}",
            config("target_groups:\n  myproject: {prodution: [a]}\n  staging: [\"web;reboot\", -web, a]\n")
                .unwrap_err()
        );
        for expected in [
            "unknown environment `prodution`",
            "`web;reboot` is neither a target group name",
            "`-web` is neither a target group name",
        ] {
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn endpoints_and_profiles() {
        assert!(check_endpoint("http://127.0.0.1:5000").is_ok());
        assert!(check_endpoint("ftp://x").is_err() && check_endpoint("http://").is_err());
        assert!(check_profile("myproject-deploy").is_ok());
        assert!(check_profile("a b").is_err() && check_profile("").is_err());
    }
}
