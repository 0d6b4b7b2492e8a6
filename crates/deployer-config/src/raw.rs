//! Serde shapes of the file's sections, before validation.
//!
//! Each section is deserialized on its own (see `validate.rs`), so one mistake does
//! not hide the others. No `flatten` and no untagged enums: both lose error paths.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::model::{Connection, FetchStrategy, KeyExchange, KnownHosts, PushCompression, Vars};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvironment {
    pub branch: Option<String>,
    pub deploy_root: Option<String>,
    pub connection: Option<Connection>,
    pub gateway: Option<String>,
    pub vars: Option<Vars>,
    /// role name → host entry; entries are interpreted by hand (list or mapping).
    pub roles: Option<IndexMap<String, serde_yaml::Value>>,
    pub rollout: Option<serde_yaml::Value>,
    pub auto_revert_after: Option<serde_yaml::Value>,
}

/// The mapping form of a role entry in an environment (Fabric's dict roledefs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoleHosts {
    pub hosts: Option<Vec<String>>,
    /// A local command whose output lists host strings (Fabric's callable roledefs).
    pub command: Option<String>,
    pub connection: Option<Connection>,
    pub gateway: Option<String>,
    pub vars: Option<Vars>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub build: Option<Commands>,
    pub restart: Option<Commands>,
    pub healthcheck: Option<RawHealthCheck>,
    pub setup: Option<Commands>,
    pub vars: Option<Vars>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMigrate {
    pub command: Commands,
    pub role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTemplate {
    pub src: String,
    pub dest: String,
    pub roles: Option<Vec<String>>,
    pub mode: Option<FileMode>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStaticHtml {
    pub upgrade_message: Option<String>,
    pub healthcheck_override: Option<String>,
    pub directory: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSsh {
    pub connect_timeout: Option<u32>,
    pub connect_concurrency: Option<u32>,
    pub connect_rate: Option<u32>,
    pub max_connections: Option<u32>,
    pub connection_attempts: Option<u32>,
    pub keepalive_interval: Option<u32>,
    pub gateway: Option<String>,
    pub identity_file: Option<String>,
    pub known_hosts: Option<KnownHosts>,
    pub known_hosts_file: Option<String>,
    pub forward_agent: Option<bool>,
    pub port: Option<u16>,
    pub key_exchange: Option<KeyExchange>,
    pub control_persist: Option<u32>,
}

/// The `aws:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAws {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub discover: Option<RawDiscover>,
    pub key_name: Option<String>,
    pub servers: Option<crate::ec2::ByEnvironmentRole<u32>>,
    pub launch_attempts: Option<u32>,
    pub autoscaling_role: Option<String>,
    pub images_keep: Option<u32>,
    pub deploy_serial: Option<crate::model::GroupReplacement>,
    pub timeouts: Option<RawAwsTimeouts>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAwsTimeouts {
    pub running: Option<u32>,
    pub ssh: Option<u32>,
    pub refresh: Option<u32>,
    pub drained: Option<u32>,
    pub healthy: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawDiscover {
    /// Roles without hosts in the file are found by `FabulAWS`'s EC2 tags.
    Tags,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExecution {
    pub pool_size: Option<u32>,
    pub batch_size: Option<u32>,
    pub skip_bad_hosts: Option<bool>,
    pub command_timeout: Option<u32>,
    pub fetch_concurrency: Option<u32>,
    pub fetch_strategy: Option<FetchStrategy>,
    pub hardlink_releases: Option<bool>,
    pub push_compression: Option<PushCompression>,
}

/// A health check: a command, or a mapping with retries.
#[derive(Debug)]
pub(crate) struct RawHealthCheck {
    pub command: String,
    pub retries: Option<u32>,
    pub interval: Option<u32>,
    pub timeout: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealthCheckMap {
    command: String,
    retries: Option<u32>,
    interval: Option<u32>,
    timeout: Option<u32>,
}

impl<'de> Deserialize<'de> for RawHealthCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HealthCheckVisitor;
        impl<'de> Visitor<'de> for HealthCheckVisitor {
            type Value = RawHealthCheck;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command, or a mapping with `command`, `retries`, `interval` and `timeout`")
            }
            fn visit_str<E: de::Error>(self, command: &str) -> Result<Self::Value, E> {
                Ok(RawHealthCheck { command: command.to_owned(), retries: None, interval: None, timeout: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let raw = RawHealthCheckMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawHealthCheck {
                    command: raw.command,
                    retries: raw.retries,
                    interval: raw.interval,
                    timeout: raw.timeout,
                })
            }
        }
        deserializer.deserialize_any(HealthCheckVisitor)
    }
}

/// One shell command or a list of them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Commands(pub Vec<String>);

impl<'de> Deserialize<'de> for Commands {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandsVisitor;
        impl<'de> Visitor<'de> for CommandsVisitor {
            type Value = Commands;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command or a list of commands")
            }
            fn visit_str<E: de::Error>(self, command: &str) -> Result<Self::Value, E> {
                Ok(Commands(vec![command.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut commands = Vec::new();
                while let Some(command) = seq.next_element::<String>()? {
                    commands.push(command);
                }
                Ok(Commands(commands))
            }
        }
        deserializer.deserialize_any(CommandsVisitor)
    }
}

/// A Unix file mode written as `"0640"`, `"640"` or `0640`.
///
/// YAML reads an unquoted `0640` as the decimal number 640, so numbers are read
/// digit by digit as octal, which is what the writer meant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileMode(pub u32);

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl Visitor<'_> for ModeVisitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an octal file mode such as \"0640\"")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                self.visit_str(&value.to_string())
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                let digits = value.strip_prefix("0o").unwrap_or(value);
                match u32::from_str_radix(digits, 8) {
                    Ok(mode) if mode <= 0o7777 && !digits.is_empty() => Ok(FileMode(mode)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(value), &self)),
                }
            }
        }
        deserializer.deserialize_any(ModeVisitor)
    }
}
