//! `FabulAWS`'s EC2 keys (`instance_settings`, `instance_types`, `security_groups`,
//! `volume_sizes`, `volume_types`, `avail_zones`, `subnets`): every value checked,
//! every environment and role key known, so a misspelling is an error and not a
//! server launched with a default.

use indexmap::IndexMap;

use super::{TopLevel, Validator};
use crate::ec2::{ByEnvironmentRole, Ec2Settings, EnvironmentOrRole};
use crate::key_path::KeyPath;

/// Names the keys of `_find` mappings may use.
pub(super) struct Names<'a> {
    pub environments: &'a [String],
    pub roles: &'a [String],
}

impl Validator<'_> {
    /// The `aws:` section and `FabulAWS`'s EC2 keys.
    pub(super) fn cloud(&mut self, top: &mut TopLevel, names: &Names<'_>) -> (crate::AwsSettings, Ec2Settings) {
        (self.aws(top, names), self.ec2(top, names))
    }

    fn ec2(&mut self, top: &mut TopLevel, names: &Names<'_>) -> Ec2Settings {
        let settings_path = KeyPath::root().key("instance_settings");
        let instance_settings =
            self.take::<IndexMap<String, serde_yaml::Value>>(top, "instance_settings").unwrap_or_default();
        let ami = instance_settings.get("ami").and_then(|value| {
            let ami = value.as_str().map(str::to_owned);
            let at = settings_path.key("ami");
            match &ami {
                Some(ami) => self.check(&at, check_image(ami)),
                None => self.problems.value(&at, "expected an image id like `ami-0abc1234`"),
            }
            ami
        });
        let ebs_encrypt = instance_settings.get("ebs_encrypt").and_then(serde_yaml::Value::as_bool).unwrap_or(false);
        let instance_types = self.by_environment_role(top, "instance_types", names, check_instance_type);
        let security_groups = self.by_environment_role(top, "security_groups", names, |groups: &Vec<String>| {
            groups.iter().try_for_each(|group| check_security_group(group))
        });
        let volume_sizes = self.by_environment_role(top, "volume_sizes", names, |size: &u32| {
            if (1..=16_384).contains(size) { Ok(()) } else { Err(format!("{size} GB is not an EBS volume size")) }
        });
        let volume_types = self.by_environment_role(top, "volume_types", names, check_volume_type);
        let avail_zones = self.take::<Vec<String>>(top, "avail_zones").unwrap_or_default();
        for (index, zone) in avail_zones.iter().enumerate() {
            self.check(&KeyPath::root().key("avail_zones").index(index), check_zone(zone));
        }
        let subnets = self.take::<IndexMap<String, String>>(top, "subnets").unwrap_or_default();
        for (zone, subnet) in &subnets {
            let at = KeyPath::root().key("subnets").key(zone);
            self.check(&at, check_zone(zone).and_then(|()| check_subnet(subnet)));
        }
        if !subnets.is_empty() {
            for (index, zone) in avail_zones.iter().enumerate() {
                if !subnets.contains_key(zone) {
                    self.problems.value(
                        &KeyPath::root().key("avail_zones").index(index),
                        format!("zone `{zone}` has no subnet in `subnets`: servers are never launched outside them"),
                    );
                }
            }
        }
        Ec2Settings {
            ami,
            ebs_encrypt,
            instance_types,
            security_groups,
            volume_sizes,
            volume_types,
            avail_zones,
            subnets,
        }
    }

    /// A `_find` mapping under `key`, each value checked with `check`.
    pub(super) fn by_environment_role<T: serde::de::DeserializeOwned>(
        &mut self,
        top: &mut TopLevel,
        key: &str,
        names: &Names<'_>,
        check: impl Fn(&T) -> Result<(), String>,
    ) -> Option<ByEnvironmentRole<T>> {
        let path = KeyPath::root().key(key);
        let value = self.take::<ByEnvironmentRole<T>>(top, key)?;
        self.check_by_environment_role(&path, &value, names, check);
        Some(value)
    }

    pub(super) fn check_by_environment_role<T>(
        &mut self,
        path: &KeyPath,
        value: &ByEnvironmentRole<T>,
        names: &Names<'_>,
        check: impl Fn(&T) -> Result<(), String>,
    ) {
        let map = match value {
            ByEnvironmentRole::One(value) => {
                self.check(path, check(value));
                return;
            }
            ByEnvironmentRole::Map(map) => map,
        };
        for (key, entry) in map {
            let at = path.key(key);
            let is_environment = names.environments.contains(key);
            if !is_environment && !names.roles.contains(key) {
                let known = names.environments.iter().chain(names.roles).map(String::as_str);
                self.problems.key(
                    &at,
                    format!("`{key}` is neither an environment nor a role"),
                    crate::did_you_mean(key, known),
                );
                continue;
            }
            match entry {
                EnvironmentOrRole::One(value) => self.check(&at, check(value)),
                EnvironmentOrRole::ByRole(roles) => {
                    if !is_environment {
                        self.problems.value(&at, format!("`{key}` is a role: give one value"));
                        continue;
                    }
                    for (role, value) in roles {
                        if names.roles.contains(role) {
                            self.check(&at.key(role), check(value));
                        } else {
                            self.problems.key(
                                &at.key(role),
                                format!("unknown role `{role}`"),
                                crate::did_you_mean(role, names.roles.iter().map(String::as_str)),
                            );
                        }
                    }
                }
            }
        }
    }
}

fn id_with_prefix(value: &str, prefix: &str, what: &str, example: &str) -> Result<(), String> {
    let valid = value
        .strip_prefix(prefix)
        .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if valid { Ok(()) } else { Err(format!("`{value}` is not {what} (like `{example}`)")) }
}

/// `ami-0abc1234` (8 or 17 hex digits).
pub(super) fn check_image(value: &str) -> Result<(), String> {
    id_with_prefix(value, "ami-", "an image id", "ami-0abc1234")
}

fn check_subnet(value: &str) -> Result<(), String> {
    id_with_prefix(value, "subnet-", "a subnet id", "subnet-0abc1234")
}

/// `t3.micro`, `c5.large`, `m7g.2xlarge`.
fn check_instance_type(value: &String) -> Result<(), String> {
    let valid = value.len() <= 32
        && value.split_once('.').is_some_and(|(family, size)| {
            !family.is_empty()
                && !size.is_empty()
                && family.bytes().chain(size.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if valid { Ok(()) } else { Err(format!("`{value}` is not an instance type (like `t3.micro`)")) }
}

/// A group name or `sg-` id.
fn check_security_group(value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 255
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b' ' | b':' | b'/'));
    if valid { Ok(()) } else { Err(format!("`{value}` is not a security group name or id")) }
}

fn check_volume_type(value: &String) -> Result<(), String> {
    const TYPES: [&str; 7] = ["gp3", "gp2", "io2", "io1", "st1", "sc1", "standard"];
    if TYPES.contains(&value.as_str()) {
        Ok(())
    } else {
        Err(format!("`{value}` is not an EBS volume type ({})", TYPES.join(", ")))
    }
}

/// A zone letter (`e`, appended to the region as `FabulAWS` does) or a full zone
/// name (`us-east-1e`).
fn check_zone(value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 32
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid { Ok(()) } else { Err(format!("`{value}` is not an availability zone (`e` or `us-east-1e`)")) }
}

/// An EC2 key pair name.
pub(super) fn check_key_name(value: &str) -> Result<(), String> {
    let valid = !value.is_empty() && value.len() <= 255 && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if valid { Ok(()) } else { Err(format!("`{value}` is not a key pair name")) }
}

#[cfg(test)]
mod tests {
    fn config(extra: &str) -> Result<crate::Config, crate::ConfigErrors> {
        let text = format!(
            "project: myproject\nrepo: /srv/git/x.git\nvalid_roles: [web, worker]\n\
             branches: {{staging: main, production: main}}\nenvironments: [staging, production]\n{extra}"
        );
        crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text, &[])
    }

    #[test]
    fn fabulaws_ec2_keys_are_read() {
        let config = config(
            "instance_settings: {ami: ami-0abc1234, key_prefix: 'myproject-', ebs_encrypt: true}\n\
             instance_types: {production: {web: c5.large, worker: m5.large}, staging: t3.small}\n\
             security_groups: {web: [myproject-web], worker: [sg-0abc1234]}\n\
             volume_sizes: {production: {worker: 50}, web: 10}\nvolume_types: gp3\n\
             avail_zones: [e, c]\nsubnets: {e: subnet-0abc1234, c: subnet-0def5678}\n",
        )
        .unwrap();
        let ec2 = &config.ec2;
        assert_eq!(ec2.ami.as_deref(), Some("ami-0abc1234"));
        assert!(ec2.ebs_encrypt);
        assert_eq!(ec2.instance_types.as_ref().unwrap().find("production", "worker").unwrap(), "m5.large");
        assert_eq!(ec2.volume_sizes.as_ref().unwrap().find("staging", "web"), Some(&10));
        assert_eq!(ec2.zones(), ["e", "c"]);
        assert!(config.keys.ignored.iter().all(|(key, _)| key != "instance_types"));
    }

    #[test]
    fn ec2_mistakes_are_named_by_key() {
        let error = config(
            "instance_settings: {ami: ubuntu}\ninstance_types: {prodution: {web: c5.large}, staging: {wbe: t3}}\n\
             volume_types: {web: fast}\navail_zones: [e, d]\nsubnets: {e: subnet-0abc1234}\n",
        )
        .unwrap_err();
        let text = format!("{error:?}");
        for expected in [
            "`ubuntu` is not an image id",
            "`prodution` is neither an environment nor a role",
            "unknown role `wbe`",
            "`fast` is not an EBS volume type",
            "zone `d` has no subnet",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
    }
}
