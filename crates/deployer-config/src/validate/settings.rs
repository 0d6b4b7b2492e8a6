//! The `ssh` and `execution` sections: connection and concurrency settings, each
//! number checked and given its default.

use super::{TopLevel, Validator, check_local_path};
use crate::host_string::HostString;
use crate::key_path::KeyPath;
use crate::model::{ExecutionSettings, SshSettings};
use crate::raw::{RawExecution, RawSsh};

const DEFAULT_POOL_SIZE: u32 = 64;
const DEFAULT_COMMAND_TIMEOUT: u32 = 600;
const DEFAULT_CONNECT_TIMEOUT: u32 = 10;
/// ssh's default is no keepalives at all; 15 s finds a dead host within a minute.
const DEFAULT_KEEPALIVE_INTERVAL: u32 = 15;

impl Validator<'_> {
    pub(super) fn ssh(&mut self, top: &mut TopLevel) -> SshSettings {
        let path = KeyPath::root().key("ssh");
        let raw: RawSsh = self.take(top, "ssh").unwrap_or_default();
        let gateway = raw.gateway.and_then(|gateway| match gateway.parse::<HostString>() {
            Ok(host) => Some(host),
            Err(error) => {
                self.problems.value(&path.key("gateway"), error.to_string());
                None
            }
        });
        for (key, value) in [("identity_file", &raw.identity_file), ("known_hosts_file", &raw.known_hosts_file)] {
            if let Some(value) = value {
                self.check(&path.key(key), check_local_path(value));
            }
        }
        let connect_timeout =
            self.at_least_one(&path.key("connect_timeout"), raw.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        let connection_attempts = self.at_least_one(&path.key("connection_attempts"), raw.connection_attempts, 1);
        let keepalive_interval =
            self.at_least_one(&path.key("keepalive_interval"), raw.keepalive_interval, DEFAULT_KEEPALIVE_INTERVAL);
        if raw.port == Some(0) {
            self.problems.value(&path.key("port"), "port must be from 1 to 65535");
        }
        SshSettings {
            connect_timeout,
            connection_attempts,
            keepalive_interval,
            gateway,
            identity_file: raw.identity_file.map(Into::into),
            known_hosts: raw.known_hosts.unwrap_or_default(),
            known_hosts_file: raw.known_hosts_file.map(Into::into),
            forward_agent: raw.forward_agent.unwrap_or(false),
            port: raw.port,
        }
    }

    pub(super) fn execution(&mut self, top: &mut TopLevel) -> ExecutionSettings {
        let path = KeyPath::root().key("execution");
        let raw: RawExecution = self.take(top, "execution").unwrap_or_default();
        ExecutionSettings {
            pool_size: self.at_least_one(&path.key("pool_size"), raw.pool_size, DEFAULT_POOL_SIZE),
            batch_size: self.at_least_one(&path.key("batch_size"), raw.batch_size, 1),
            skip_bad_hosts: raw.skip_bad_hosts.unwrap_or(false),
            command_timeout: self.at_least_one(
                &path.key("command_timeout"),
                raw.command_timeout,
                DEFAULT_COMMAND_TIMEOUT,
            ),
        }
    }

    fn at_least_one(&mut self, path: &KeyPath, value: Option<u32>, default: u32) -> u32 {
        match value {
            Some(0) => {
                let name = match path.segments().last() {
                    Some(crate::key_path::Segment::Key(name)) => name.as_str(),
                    _ => "the value",
                };
                self.problems.value(path, format!("`{name}` must be at least 1"));
                default
            }
            Some(value) => value,
            None => default,
        }
    }
}
