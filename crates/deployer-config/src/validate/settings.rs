//! The `ssh` and `execution` sections: connection and concurrency settings, each
//! number checked and given its default.

use super::{TopLevel, Validator, check_local_path};
use crate::host_string::HostString;
use crate::key_path::KeyPath;
use crate::model::{ExecutionSettings, SshSettings};
use crate::model::{FetchStrategy, PushCompression};
use crate::raw::{RawExecution, RawSsh};

const DEFAULT_POOL_SIZE: u32 = 64;
const DEFAULT_COMMAND_TIMEOUT: u32 = 600;
const DEFAULT_CONNECT_TIMEOUT: u32 = 10;
/// Below sshd's default `MaxStartups` of 10 unauthenticated connections.
const DEFAULT_CONNECT_CONCURRENCY: u32 = 8;
/// ssh's default is no keepalives at all; 15 s finds a dead host within a minute.
const DEFAULT_KEEPALIVE_INTERVAL: u32 = 15;

pub(super) const HOUR: u32 = 3600;
pub(super) const DAY: u32 = 24 * HOUR;
const WEEK: u32 = 7 * DAY;
const MAX_ATTEMPTS: u32 = 100;
const MAX_HOSTS: u32 = 100_000;
const MAX_CONNECT_RATE: u32 = 10_000;

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
                // These go into the generated ssh config inside double quotes, which
                // ssh cannot escape.
                let result = check_local_path(value).and_then(|()| {
                    if value.contains('"') {
                        Err("the path contains `\"`, which ssh's configuration cannot hold".to_owned())
                    } else {
                        Ok(())
                    }
                });
                self.check(&path.key(key), result);
            }
        }
        let connect_timeout =
            self.in_range(&path.key("connect_timeout"), raw.connect_timeout, DEFAULT_CONNECT_TIMEOUT, 1..=HOUR);
        let connect_concurrency = self.in_range(
            &path.key("connect_concurrency"),
            raw.connect_concurrency,
            DEFAULT_CONNECT_CONCURRENCY,
            1..=1000,
        );
        let connect_rate = raw
            .connect_rate
            .map(|rate| self.in_range(&path.key("connect_rate"), Some(rate), rate, 1..=MAX_CONNECT_RATE));
        let max_connections = raw
            .max_connections
            .map(|limit| self.in_range(&path.key("max_connections"), Some(limit), limit, 1..=MAX_HOSTS));
        let connection_attempts =
            self.in_range(&path.key("connection_attempts"), raw.connection_attempts, 1, 1..=MAX_ATTEMPTS);
        let keepalive_interval = self.in_range(
            &path.key("keepalive_interval"),
            raw.keepalive_interval,
            DEFAULT_KEEPALIVE_INTERVAL,
            1..=HOUR,
        );
        if raw.port == Some(0) {
            self.problems.value(&path.key("port"), "port must be from 1 to 65535");
        }
        SshSettings {
            connect_timeout,
            connect_concurrency,
            connect_rate,
            max_connections,
            connection_attempts,
            keepalive_interval,
            gateway,
            identity_file: raw.identity_file.map(Into::into),
            known_hosts: raw.known_hosts.unwrap_or_default(),
            known_hosts_file: raw.known_hosts_file.map(Into::into),
            forward_agent: raw.forward_agent.unwrap_or(false),
            port: raw.port,
            key_exchange: raw.key_exchange.unwrap_or_default(),
            control_persist: raw
                .control_persist
                .map(|seconds| self.in_range(&path.key("control_persist"), Some(seconds), seconds, 1..=DAY)),
        }
    }

    pub(super) fn execution(&mut self, top: &mut TopLevel) -> ExecutionSettings {
        let path = KeyPath::root().key("execution");
        let raw: RawExecution = self.take(top, "execution").unwrap_or_default();
        ExecutionSettings {
            pool_size: self.in_range(&path.key("pool_size"), raw.pool_size, DEFAULT_POOL_SIZE, 1..=MAX_HOSTS),
            batch_size: self.in_range(&path.key("batch_size"), raw.batch_size, 1, 1..=MAX_HOSTS),
            skip_bad_hosts: raw.skip_bad_hosts.unwrap_or(false),
            command_timeout: self.in_range(
                &path.key("command_timeout"),
                raw.command_timeout,
                DEFAULT_COMMAND_TIMEOUT,
                1..=WEEK,
            ),
            fetch_concurrency: raw
                .fetch_concurrency
                .map(|limit| self.in_range(&path.key("fetch_concurrency"), Some(limit), limit, 1..=MAX_HOSTS)),
            fetch_strategy: raw.fetch_strategy.unwrap_or_default(),
            hardlink_releases: raw.hardlink_releases.unwrap_or(false),
            push_compression: self.push_compression(&path, &raw),
        }
    }

    /// `push_compression`, which only the `push` strategy has a use for: set
    /// with `git`, it would silently do nothing.
    fn push_compression(&mut self, path: &KeyPath, raw: &RawExecution) -> PushCompression {
        let Some(compression) = raw.push_compression else { return PushCompression::default() };
        if raw.fetch_strategy != Some(FetchStrategy::Push) {
            self.problems.value(
                &path.key("push_compression"),
                "`push_compression` needs `fetch_strategy: push` (with `git` the hosts fetch from the repository)"
                    .to_owned(),
            );
        }
        compression
    }

    /// `value` (or `default`) when it lies in `range`; otherwise a problem naming
    /// the range. The ranges keep every limit derived from these numbers (a health
    /// check's retries × (timeout + interval), the executor's deadlines) far from
    /// overflowing.
    pub(super) fn in_range(
        &mut self,
        path: &KeyPath,
        value: Option<u32>,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> u32 {
        match value {
            Some(value) if !range.contains(&value) => {
                let name = match path.segments().last() {
                    Some(crate::key_path::Segment::Key(name)) => name.as_str(),
                    _ => "the value",
                };
                self.problems.value(path, format!("`{name}` must be from {} to {}", range.start(), range.end()));
                default
            }
            Some(value) => value,
            None => default,
        }
    }
}

#[cfg(test)]
mod tests {
    fn parse(execution: &str) -> Result<crate::Config, String> {
        let text = format!(
            "project: p\nrepo: /srv/git/p.git\nvalid_roles: [web]\nexecution:\n{execution}\n\
             environments:\n  staging: {{branch: main}}\n"
        );
        crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text, &[]).map_err(|error| format!("{error:?}"))
    }

    #[test]
    fn hardlinked_releases_are_off_unless_asked_with_either_strategy() {
        assert!(!parse("  pool_size: 4").unwrap().execution.hardlink_releases);
        assert!(parse("  hardlink_releases: true").unwrap().execution.hardlink_releases);
        // With push: a pristine tree of unpacked archives, updated by deltas.
        assert!(parse("  hardlink_releases: true\n  fetch_strategy: push").unwrap().execution.hardlink_releases);
    }

    #[test]
    fn push_compression_is_gzip_unless_asked_and_only_for_the_push_strategy() {
        use crate::PushCompression;
        let push = |extra: &str| parse(&format!("  fetch_strategy: push{extra}"));
        assert_eq!(push("").unwrap().execution.push_compression, PushCompression::Gzip);
        assert_eq!(push("\n  push_compression: zstd").unwrap().execution.push_compression, PushCompression::Zstd);
        let error = parse("  push_compression: zstd").unwrap_err();
        assert!(error.contains("`push_compression` needs `fetch_strategy: push`"), "{error}");
        assert!(error.contains("Key(\"push_compression\")") && error.contains("line: 5"), "key and line: {error}");
        let error = push("\n  push_compression: xz").unwrap_err();
        assert!(error.contains("zstd"), "the choices are named: {error}");
    }
}
