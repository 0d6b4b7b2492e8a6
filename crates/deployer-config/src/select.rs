//! The effective host list of a command, by Fabric's rules.
//!
//! - `-H` hosts and `-R` roles from the command line replace the configuration's
//!   hosts; without either, every role of the environment is targeted.
//! - Within that one source, explicit hosts come first, then each role's hosts in
//!   role order.
//! - Duplicates are dropped (first occurrence kept) unless `--no-dedupe`. Unlike
//!   Fabric, two spellings of one destination (`web1` and `deploy@web1` when the
//!   deploy user is `deploy`) count as duplicates: they would reach the same account.
//! - `-x` removes hosts. An exclusion without a user or port matches the host with
//!   any user or port. Unlike Fabric, exclusions apply with `--no-dedupe` too.
//! - The user is the host string's `user@`, else `-u`, else `deploy_user`, else none
//!   (ssh decides from `~/.ssh/config`). The port is the host string's, else
//!   `ssh.port`, else none.
//! - A role's `command` runs only when that role is targeted (or when `-H` hosts
//!   need their roles looked up).
//! - With `aws.discover: tags`, every valid role the environment gives no hosts
//!   (neither listed nor from a command) is found by EC2 tags, as `FabulAWS` did.

use indexmap::IndexMap;
use serde::Serialize;

use crate::error::did_you_mean;
use crate::host_string::{HostString, HostStringError};
use crate::model::{Config, Connection, Environment, join_names};
use crate::names::{check_user, printable};

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `-H`, already split at commas.
    pub hosts: Vec<String>,
    /// `-R`, already split at commas.
    pub roles: Vec<String>,
    /// `-x`, already split at commas.
    pub exclude: Vec<String>,
    /// `false` with `--no-dedupe`.
    pub dedupe: bool,
    /// `-u`.
    pub user: Option<String>,
    /// `create_environment` with tag discovery: add a [`LaunchSlot`] host for each
    /// server a role found by tags is missing (`aws.servers`).
    pub launch_missing: bool,
}

/// A server `create_environment` launches: its address is known only once it
/// runs, so until then the host is this slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchSlot {
    pub role: String,
    /// 1, 2, ... among the servers of the role launched by this run.
    pub number: u32,
    /// The zone (`avail_zones`), when the file names zones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The zone's subnet (`subnets`), when the file names subnets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Launched by the Auto Scaling group (when the run raises its capacity),
    /// not by deployer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_group: bool,
}

/// One host a command will run on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHost {
    pub host: String,
    /// `None` when ssh decides (from `~/.ssh/config` or the local user name).
    pub user: Option<String>,
    /// `None` when ssh decides.
    pub port: Option<u16>,
    /// The targeted roles this host plays, in role order.
    pub roles: Vec<String>,
    pub connection: Connection,
    /// The bastion this host is reached through: its role's, else its
    /// environment's, else `ssh.gateway` (`--gateway` beats them all, later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<HostString>,
    /// A server this run launches; `host` is a placeholder until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch: Option<LaunchSlot>,
}

impl TargetHost {
    /// The host string ssh is given, e.g. `deploy@[2001:db8::1]:2222`.
    pub fn destination(&self) -> HostString {
        HostString { user: self.user.clone(), host: self.host.clone(), port: self.port }
    }
}

impl std::fmt::Display for TargetHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.destination().fmt(f)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    #[error("unknown environment `{name}`")]
    UnknownEnvironment { name: String, help: String },
    #[error("unknown role `{name}` in `-R`")]
    UnknownRole { name: String, help: String },
    #[error("`{flag}`: {error}")]
    InvalidHost { flag: &'static str, error: HostStringError },
    #[error("`-u`: {0}")]
    InvalidUser(String),
    #[error("role `{role}` of environment `{environment}`: host command failed: {reason}")]
    Discovery { environment: String, role: String, command: String, reason: String },
    #[error("role `{role}` of environment `{environment}`: line {line} of the host command's output: {error}")]
    DiscoveredHost { environment: String, role: String, line: usize, error: HostStringError },
    #[error("role `{role}` of environment `{environment}`: finding hosts by EC2 tags failed: {reason}")]
    TagDiscovery { environment: String, role: String, reason: String },
}

impl SelectionError {
    /// A hint for the user, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::UnknownEnvironment { help, .. } | Self::UnknownRole { help, .. } => Some(help.clone()),
            Self::Discovery { command, .. } => Some(format!("the command was: {}", printable(command))),
            _ => None,
        }
    }
}

/// Finds the hosts of roles the file does not list.
pub trait RoleDiscovery {
    /// Runs a role's host command and returns what it printed. `Err` carries a
    /// short reason (exit status, stderr tail).
    fn discover(&mut self, request: &DiscoveryRequest<'_>) -> Result<String, String>;

    /// The hosts EC2 tags give a role (`aws.discover: tags`), already validated.
    fn discover_tagged(&mut self, request: &TagRequest<'_>) -> Result<Vec<HostString>, String> {
        let _ = request;
        Err("this deployer was built without AWS support (the `aws` cargo feature)".to_owned())
    }
}

/// The role whose hosts EC2 tags should give.
#[derive(Debug, Clone, Copy)]
pub struct TagRequest<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub role: &'a str,
}

/// What a host command is run for; also passed to it as environment variables.
#[derive(Debug, Clone, Copy)]
pub struct DiscoveryRequest<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub role: &'a str,
    pub command: &'a str,
}

/// Discovery for configurations known to have no host commands (tests, benchmarks).
pub struct NoDiscovery;

impl RoleDiscovery for NoDiscovery {
    fn discover(&mut self, request: &DiscoveryRequest<'_>) -> Result<String, String> {
        Err(format!("host commands are not available here (role `{}`)", request.role))
    }
}

/// How a host is reached: the connection and the bastion, if any.
type Reach = (Connection, Option<HostString>);

struct Candidate {
    host: HostString,
    roles: Vec<String>,
    connection: Connection,
    gateway: Option<HostString>,
}

/// Resolves the hosts of `environment` for `selection`, in execution order.
pub fn select_hosts(
    config: &Config,
    environment: &str,
    selection: &Selection,
    discovery: &mut dyn RoleDiscovery,
) -> Result<Vec<TargetHost>, SelectionError> {
    let environment = config.environment(environment)?;
    for role in &selection.roles {
        if !config.roles.contains_key(role) {
            let names: Vec<&str> = config.roles.keys().map(String::as_str).collect();
            let help = did_you_mean(role, names.iter().copied())
                .unwrap_or_else(|| format!("roles are: {}", join_names(config.roles.keys())));
            return Err(SelectionError::UnknownRole { name: role.clone(), help });
        }
    }
    if let Some(user) = &selection.user {
        check_user(user).map_err(SelectionError::InvalidUser)?;
    }
    let explicit = parse_flag_hosts("-H", &selection.hosts)?;
    let explicit_empty = explicit.is_empty();
    let exclude = parse_flag_hosts("-x", &selection.exclude)?;

    let mut role_hosts = RoleHostCache { config, environment, discovery, resolved: IndexMap::new() };
    let mut candidates = Vec::new();
    if explicit.is_empty() && selection.roles.is_empty() {
        for role in role_hosts.roles() {
            push_role(&mut candidates, &mut role_hosts, &role)?;
        }
    } else {
        for host in explicit {
            let (roles, (connection, gateway)) = role_hosts.roles_of(&host)?;
            candidates.push(Candidate { host, roles, connection, gateway });
        }
        for role in &selection.roles {
            push_role(&mut candidates, &mut role_hosts, role)?;
        }
    }

    let mut targets: Vec<TargetHost> = Vec::with_capacity(candidates.len());
    let mut seen: IndexMap<(Option<String>, String, Option<u16>), usize> = IndexMap::new();
    for candidate in candidates {
        if exclude.iter().any(|pattern| excludes(pattern, &candidate.host)) {
            continue;
        }
        let user =
            candidate.host.user.clone().or_else(|| selection.user.clone()).or_else(|| config.deploy_user.clone());
        let port = candidate.host.port.or(config.ssh.port);
        let key = (user.clone(), candidate.host.host.clone(), port);
        if selection.dedupe {
            if let Some(&index) = seen.get(&key) {
                let target: &mut TargetHost = &mut targets[index];
                for role in candidate.roles {
                    if !target.roles.contains(&role) {
                        target.roles.push(role);
                    }
                }
                continue;
            }
            seen.insert(key, targets.len());
        }
        targets.push(TargetHost {
            host: candidate.host.host,
            user,
            port,
            roles: candidate.roles,
            connection: candidate.connection,
            gateway: candidate.gateway,
            launch: None,
        });
    }
    if selection.launch_missing && explicit_empty {
        for role in role_hosts.roles() {
            let targeted = selection.roles.is_empty() || selection.roles.contains(&role);
            if targeted && role_hosts.found_by_tags(&role) {
                let running = role_hosts.hosts(&role)?.len();
                targets.extend(launch_slots(config, &role_hosts, &role, running, selection));
            }
        }
    }
    for target in &mut targets {
        // Report roles in the configuration's role order, whatever the order of discovery.
        target.roles.sort_by_key(|role| config.roles.get_index_of(role));
    }
    Ok(targets)
}

/// The one server `create_image` launches to build an image of `role`'s servers,
/// in the first zone (and its subnet), reached as the role's servers are.
pub fn builder_host(config: &Config, environment: &str, role: &str) -> Result<TargetHost, SelectionError> {
    let environment = config.environment(environment)?;
    let cache = RoleHostCache { config, environment, discovery: &mut NoDiscovery, resolved: IndexMap::new() };
    let (connection, gateway) = cache.reach(role);
    let zone = config.ec2.zones().first().cloned();
    let subnet = zone.as_ref().and_then(|zone| config.ec2.subnets.get(zone).cloned());
    Ok(TargetHost {
        host: format!("builder-{role}"),
        user: config.deploy_user.clone(),
        port: config.ssh.port,
        roles: vec![role.to_owned()],
        connection,
        gateway,
        launch: Some(LaunchSlot { role: role.to_owned(), number: 1, zone, subnet, by_group: false }),
    })
}

/// The `count` servers an Auto Scaling group launches for `role` when a deploy
/// raises its capacity: hosts once they are in service.
pub fn group_slots(
    config: &Config,
    environment: &str,
    role: &str,
    count: u32,
) -> Result<Vec<TargetHost>, SelectionError> {
    let environment = config.environment(environment)?;
    let cache = RoleHostCache { config, environment, discovery: &mut NoDiscovery, resolved: IndexMap::new() };
    let (connection, gateway) = cache.reach(role);
    Ok((1..=count)
        .map(|number| TargetHost {
            host: format!("new-{role}-{number}"),
            user: config.deploy_user.clone(),
            port: config.ssh.port,
            roles: vec![role.to_owned()],
            connection,
            gateway: gateway.clone(),
            launch: Some(LaunchSlot { role: role.to_owned(), number, zone: None, subnet: None, by_group: true }),
        })
        .collect())
}

/// The servers `role` is missing (it runs `running` of the `aws.servers` it
/// should), spread over the zones in order after the ones running.
fn launch_slots(
    config: &Config,
    cache: &RoleHostCache<'_, '_>,
    role: &str,
    running: usize,
    selection: &Selection,
) -> Vec<TargetHost> {
    let wanted = config.aws.servers_for(&cache.environment.name, role) as usize;
    let zones = config.ec2.zones();
    let (connection, gateway) = cache.reach(role);
    (running..wanted)
        .enumerate()
        .map(|(offset, position)| {
            let zone = (!zones.is_empty()).then(|| zones[position % zones.len()].clone());
            let subnet = zone.as_ref().and_then(|zone| config.ec2.subnets.get(zone).cloned());
            let number = u32::try_from(offset + 1).unwrap_or(u32::MAX);
            TargetHost {
                host: format!("new-{role}-{number}"),
                user: selection.user.clone().or_else(|| config.deploy_user.clone()),
                port: config.ssh.port,
                roles: vec![role.to_owned()],
                connection,
                gateway: gateway.clone(),
                launch: Some(LaunchSlot { role: role.to_owned(), number, zone, subnet, by_group: false }),
            }
        })
        .collect()
}

fn push_role(
    candidates: &mut Vec<Candidate>,
    cache: &mut RoleHostCache<'_, '_>,
    role: &str,
) -> Result<(), SelectionError> {
    let (connection, gateway) = cache.reach(role);
    for host in cache.hosts(role)?.clone() {
        candidates.push(Candidate { host, roles: vec![role.to_owned()], connection, gateway: gateway.clone() });
    }
    Ok(())
}

fn parse_flag_hosts(flag: &'static str, values: &[String]) -> Result<Vec<HostString>, SelectionError> {
    values
        .iter()
        .filter(|value| !value.trim().is_empty())
        .map(|value| value.parse::<HostString>().map_err(|error| SelectionError::InvalidHost { flag, error }))
        .collect()
}

fn excludes(pattern: &HostString, host: &HostString) -> bool {
    pattern.host == host.host
        && pattern.user.as_ref().is_none_or(|user| host.user.as_ref() == Some(user))
        && pattern.port.is_none_or(|port| host.port == Some(port))
}

/// Each role's hosts in this environment, with host commands run at most once.
struct RoleHostCache<'c, 'd> {
    config: &'c Config,
    environment: &'c Environment,
    discovery: &'d mut dyn RoleDiscovery,
    resolved: IndexMap<String, Vec<HostString>>,
}

impl RoleHostCache<'_, '_> {
    fn hosts(&mut self, role: &str) -> Result<&Vec<HostString>, SelectionError> {
        if !self.resolved.contains_key(role) {
            let hosts = self.resolve(role)?;
            self.resolved.insert(role.to_owned(), hosts);
        }
        Ok(&self.resolved[role])
    }

    /// The roles this environment can have hosts for: the ones it lists, and with
    /// tag discovery every valid role.
    fn roles(&self) -> Vec<String> {
        if self.config.aws.discover_by_tags {
            self.config.roles.keys().cloned().collect()
        } else {
            self.environment.roles.keys().cloned().collect()
        }
    }

    /// Whether `role` gets its hosts from EC2 tags: tag discovery is on and the
    /// file gives it none.
    fn found_by_tags(&self, role: &str) -> bool {
        self.config.aws.discover_by_tags
            && self.environment.roles.get(role).is_none_or(|entry| entry.hosts.is_empty() && entry.command.is_none())
    }

    fn resolve(&mut self, role: &str) -> Result<Vec<HostString>, SelectionError> {
        if self.found_by_tags(role) {
            let request = TagRequest { project: &self.config.project, environment: &self.environment.name, role };
            return self.discovery.discover_tagged(&request).map_err(|reason| SelectionError::TagDiscovery {
                environment: self.environment.name.clone(),
                role: role.to_owned(),
                reason,
            });
        }
        let Some(entry) = self.environment.roles.get(role) else { return Ok(Vec::new()) };
        let mut hosts = entry.hosts.clone();
        if let Some(command) = &entry.command {
            let mut known: std::collections::HashSet<HostString> = hosts.iter().cloned().collect();
            let request =
                DiscoveryRequest { project: &self.config.project, environment: &self.environment.name, role, command };
            let output = self.discovery.discover(&request).map_err(|reason| SelectionError::Discovery {
                environment: self.environment.name.clone(),
                role: role.to_owned(),
                command: command.clone(),
                reason,
            })?;
            for (number, line) in output.lines().enumerate() {
                // Whitespace separates hosts, so `aws ... --output text` works as is.
                let line = line.split('#').next().unwrap_or_default();
                for word in line.split_whitespace() {
                    let host = word.parse::<HostString>().map_err(|error| SelectionError::DiscoveredHost {
                        environment: self.environment.name.clone(),
                        role: role.to_owned(),
                        line: number + 1,
                        error,
                    })?;
                    if known.insert(host.clone()) {
                        hosts.push(host);
                    }
                }
            }
        }
        Ok(hosts)
    }

    /// The roles a `-H` host plays in this environment (every role that lists it),
    /// and how to reach it.
    fn roles_of(&mut self, host: &HostString) -> Result<(Vec<String>, Reach), SelectionError> {
        let mut roles = Vec::new();
        let mut reach = None;
        for role in self.roles() {
            let listed = self.hosts(&role)?.iter().any(|known| known.host == host.host && known.port == host.port);
            if listed {
                if reach.is_none() {
                    reach = Some(self.reach(&role));
                }
                roles.push(role);
            }
        }
        Ok((roles, reach.unwrap_or_else(|| (Connection::default(), self.default_gateway()))))
    }

    /// The bastion of a host whose role names none: the environment's, else
    /// `ssh.gateway`.
    fn default_gateway(&self) -> Option<HostString> {
        self.environment.gateway.clone().or_else(|| self.config.ssh.gateway.clone())
    }

    /// How `role`'s hosts are reached: the connection, and the bastion the role,
    /// else the environment, else `ssh.gateway` names. A host in several roles is reached as its
    /// first role says.
    fn reach(&self, role: &str) -> Reach {
        let entry = self.environment.roles.get(role);
        let gateway = entry.and_then(|entry| entry.gateway.clone()).or_else(|| self.default_gateway());
        (entry.map(|entry| entry.connection).unwrap_or_default(), gateway)
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
