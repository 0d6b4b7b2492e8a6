//! The `environments` and `branches` sections: names, branches, deploy roots and each
//! role's hosts per environment.

use camino::Utf8Path;
use indexmap::IndexMap;
use serde_yaml::Value;

use crate::error::did_you_mean;
use crate::host_string::HostString;
use crate::key_path::KeyPath;
use crate::model::{Connection, Environment, RoleHosts, Vars, Warning, join_names};
use crate::names::{check_absolute_path, check_branch, check_name};
use crate::problems::Problems;
use crate::raw::{RawEnvironment, RawRoleHosts};
use crate::validate::check_var_names;

pub(crate) struct BranchSources<'a> {
    pub value: Option<Value>,
    pub deployments: &'a [String],
}

pub(crate) struct Inputs<'a> {
    pub value: Option<Value>,
    pub branches: BranchSources<'a>,
    pub roles: &'a [String],
    pub deploy_base: &'a Utf8Path,
    pub production: Option<&'a [String]>,
}

/// A branch and where it was written.
struct BranchEntry {
    branch: String,
    path: KeyPath,
}

/// Branches from the `branches` map, in either `FabulAWS` form.
#[derive(Default)]
struct BranchMap {
    /// `branches.<environment>: <branch>`
    by_environment: IndexMap<String, BranchEntry>,
    /// `branches.<deployment>.<environment>: <branch>`
    by_deployment: IndexMap<(String, String), BranchEntry>,
}

pub(crate) fn build(problems: &mut Problems, inputs: Inputs<'_>) -> IndexMap<String, Environment> {
    let root = KeyPath::root().key("environments");
    let raw_environments = read_environments(problems, inputs.value);
    let names: Vec<String> = raw_environments.keys().cloned().collect();
    let branch_map = read_branches(problems, inputs.branches.value, &names, inputs.branches.deployments);
    let production: Vec<String> = match inputs.production {
        Some(listed) => {
            for (index, name) in listed.iter().enumerate() {
                if !names.contains(name) {
                    problems.value_with_help(
                        &KeyPath::root().key("production_environments").index(index),
                        format!("unknown environment `{name}`"),
                        suggest(name, &names),
                    );
                }
            }
            listed.to_vec()
        }
        // FabulAWS's default when the key is missing.
        None => vec!["production".to_owned()],
    };

    let mut environments = IndexMap::new();
    for (name, raw) in raw_environments {
        let path = root.key(&name);
        let branches =
            environment_branches(problems, &name, &path, raw.branch, &branch_map, inputs.branches.deployments);
        let deploy_root = match raw.deploy_root {
            Some(deploy_root) => {
                if let Err(message) = check_absolute_path(&deploy_root) {
                    problems.value(&path.key("deploy_root"), message);
                }
                deploy_root.trim_end_matches('/').into()
            }
            None => inputs.deploy_base.join(&name),
        };
        let vars = raw.vars.unwrap_or_default();
        check_var_names(problems, &path.key("vars"), &vars);
        let connection = raw.connection.unwrap_or_default();
        let gateway = parse_gateway(problems, &path.key("gateway"), raw.gateway);
        let roles = role_hosts(problems, &path.key("roles"), raw.roles.unwrap_or_default(), inputs.roles, connection);
        let branch = branches.values().next().cloned().unwrap_or_default();
        let rollout = raw.rollout.and_then(|value| {
            let at = path.key("rollout");
            problems.section(&at, value).and_then(|raw| crate::rollout::rollout(problems, &at, raw))
        });
        let auto_revert_after = raw
            .auto_revert_after
            .and_then(|value| crate::rollout::auto_revert_after(problems, &path.key("auto_revert_after"), &value));
        environments.insert(
            name.clone(),
            Environment {
                auto_revert_after,
                production: production.contains(&name),
                name,
                branch,
                branches,
                deploy_root,
                gateway,
                vars,
                roles,
                rollout,
            },
        );
    }
    environments
}

/// A `gateway:` value: a host string, like `ssh.gateway`.
fn parse_gateway(problems: &mut Problems, path: &KeyPath, value: Option<String>) -> Option<HostString> {
    match value?.parse::<HostString>() {
        Ok(host) => Some(host),
        Err(error) => {
            problems.value(path, error.to_string());
            None
        }
    }
}

fn read_environments(problems: &mut Problems, value: Option<Value>) -> IndexMap<String, RawEnvironment> {
    let root = KeyPath::root().key("environments");
    let empty = || RawEnvironment {
        branch: None,
        deploy_root: None,
        connection: None,
        gateway: None,
        vars: None,
        roles: None,
        rollout: None,
        auto_revert_after: None,
    };
    let mut environments = IndexMap::new();
    match value {
        None => problems.value(&KeyPath::root(), "missing required key `environments`"),
        // FabulAWS's form: a list of names. Hosts then come from nowhere in the file.
        Some(Value::Sequence(items)) => {
            for (index, item) in items.into_iter().enumerate() {
                let Some(name) = problems.section::<String>(&root.index(index), item) else { continue };
                if let Err(message) = check_name(&name) {
                    problems.value(&root.index(index), message);
                } else if environments.insert(name.clone(), empty()).is_some() {
                    problems.value(&root.index(index), format!("environment `{name}` is listed twice"));
                }
            }
        }
        Some(Value::Mapping(entries)) => {
            for (key, value) in entries {
                let Some(name) = key.as_str().map(str::to_owned) else {
                    problems.key(&root, format!("environment name `{key:?}` is not a string"), None);
                    continue;
                };
                let path = root.key(&name);
                if let Err(message) = check_name(&name) {
                    problems.key(&path, message, None);
                    continue;
                }
                let raw =
                    if value.is_null() { Some(empty()) } else { problems.section::<RawEnvironment>(&path, value) };
                if let Some(raw) = raw {
                    environments.insert(name, raw);
                }
            }
        }
        Some(_) => problems.value(&root, "expected a list of environment names or a mapping of environments"),
    }
    environments
}

fn read_branches(
    problems: &mut Problems,
    value: Option<Value>,
    environments: &[String],
    deployments: &[String],
) -> BranchMap {
    let root = KeyPath::root().key("branches");
    let mut map = BranchMap::default();
    let Some(value) = value else { return map };
    let Some(entries) = problems.section::<IndexMap<String, Value>>(&root, value) else { return map };
    for (key, value) in entries {
        let path = root.key(&key);
        match value {
            Value::Mapping(_) => {
                if !deployments.contains(&key) {
                    let help = suggest(&key, deployments).or_else(|| {
                        environments.contains(&key).then(|| {
                            format!("`branches.{key}` names an environment, so its value must be a branch name")
                        })
                    });
                    problems.key(&path, format!("unknown deployment `{key}`"), help);
                    continue;
                }
                let Some(inner) = problems.section::<IndexMap<String, String>>(&path, value) else { continue };
                for (environment, branch) in inner {
                    let entry_path = path.key(&environment);
                    if !environments.contains(&environment) {
                        problems.key(
                            &entry_path,
                            format!("unknown environment `{environment}`"),
                            suggest(&environment, environments),
                        );
                        continue;
                    }
                    map.by_deployment.insert((key.clone(), environment), BranchEntry { branch, path: entry_path });
                }
            }
            other => {
                if !environments.contains(&key) {
                    problems.key(&path, format!("unknown environment `{key}`"), suggest(&key, environments));
                    continue;
                }
                if let Some(branch) = problems.section::<String>(&path, other) {
                    map.by_environment.insert(key, BranchEntry { branch, path });
                }
            }
        }
    }
    map
}

/// Works out the branch of one environment for each deployment, refusing conflicts.
fn environment_branches(
    problems: &mut Problems,
    name: &str,
    path: &KeyPath,
    own: Option<String>,
    map: &BranchMap,
    deployments: &[String],
) -> IndexMap<String, String> {
    let own = own.map(|branch| BranchEntry { branch, path: path.key("branch") });
    let mut checked = Vec::new();
    let mut result = IndexMap::new();
    for deployment in deployments {
        let mut candidates: Vec<&BranchEntry> =
            [map.by_deployment.get(&(deployment.clone(), name.to_owned())), own.as_ref(), map.by_environment.get(name)]
                .into_iter()
                .flatten()
                .collect();
        // A `--set` override replaces whatever the file says.
        if let Some(overridden) = candidates.iter().position(|entry| problems.is_overridden(&entry.path)) {
            candidates = vec![candidates[overridden]];
        }
        let Some(first) = candidates.first() else {
            let which = if deployments.len() > 1 { format!(" for deployment `{deployment}`") } else { String::new() };
            problems.key(
                path,
                format!("environment `{name}` has no branch{which}"),
                Some(format!("add `branch: main` under `environments.{name}`, or `{name}: main` under `branches`")),
            );
            continue;
        };
        for other in &candidates[1..] {
            if other.branch != first.branch {
                problems.value_with_help(
                    &other.path,
                    format!(
                        "conflicting branches for environment `{name}`: `{}` here, `{}` at `{}`",
                        other.branch, first.branch, first.path
                    ),
                    Some("give each environment one branch".to_owned()),
                );
            }
        }
        for entry in &candidates {
            if !checked.contains(&entry.path) {
                checked.push(entry.path.clone());
                if let Err(message) = check_branch(&entry.branch) {
                    problems.value(&entry.path, message);
                }
            }
        }
        result.insert(deployment.clone(), first.branch.clone());
    }
    result
}

fn role_hosts(
    problems: &mut Problems,
    root: &KeyPath,
    entries: IndexMap<String, Value>,
    roles: &[String],
    default_connection: Connection,
) -> IndexMap<String, RoleHosts> {
    let mut result = IndexMap::new();
    for (role, value) in entries {
        let path = root.key(&role);
        if !roles.contains(&role) {
            let help = suggest(&role, roles).or_else(|| Some(format!("roles are: {}", join_names(roles))));
            problems.key(&path, format!("unknown role `{role}`"), help);
            continue;
        }
        let (raw_hosts, hosts_path, command, connection, vars, gateway) = match value {
            Value::Null => (Vec::new(), path.clone(), None, None, Vars::new(), None),
            Value::String(host) => (vec![host], path.clone(), None, None, Vars::new(), None),
            Value::Sequence(_) => {
                let Some(hosts) = problems.section::<Vec<String>>(&path, value) else { continue };
                (hosts, path.clone(), None, None, Vars::new(), None)
            }
            Value::Mapping(_) => {
                let Some(raw) = problems.section::<RawRoleHosts>(&path, value) else { continue };
                if raw.hosts.is_none() && raw.command.is_none() {
                    problems.key(&path, format!("role `{role}` lists no `hosts` and no `command`"), None);
                }
                let vars = raw.vars.unwrap_or_default();
                check_var_names(problems, &path.key("vars"), &vars);
                let gateway = parse_gateway(problems, &path.key("gateway"), raw.gateway);
                (raw.hosts.unwrap_or_default(), path.key("hosts"), raw.command, raw.connection, vars, gateway)
            }
            _ => {
                problems
                    .value(&path, "expected a list of host strings, or a mapping with `hosts`, `command` or `vars`");
                continue;
            }
        };
        if let Some(command) = &command
            && command.trim().is_empty()
        {
            problems.value(&path.key("command"), "the command is empty");
        }
        let hosts =
            parse_hosts(problems, &hosts_path, &role, &raw_hosts, matches!(raw_hosts.len(), 1) && hosts_path == path);
        result.insert(
            role,
            RoleHosts {
                hosts,
                command,
                connection: connection.unwrap_or(default_connection),
                gateway,
                vars,
                key_path: path,
            },
        );
    }
    result
}

fn parse_hosts(
    problems: &mut Problems,
    path: &KeyPath,
    role: &str,
    raw: &[String],
    single_scalar: bool,
) -> Vec<HostString> {
    let mut hosts: Vec<HostString> = Vec::with_capacity(raw.len());
    // Position of each host in `hosts`: keeps the duplicate check linear for big fleets.
    let mut positions: std::collections::HashMap<HostString, usize> =
        std::collections::HashMap::with_capacity(raw.len());
    for (index, text) in raw.iter().enumerate() {
        // A role written as a single string (`web: web1`) has no index in its path.
        let item_path = if single_scalar { path.clone() } else { path.index(index) };
        match text.parse::<HostString>() {
            Ok(host) => {
                if let Some(&first) = positions.get(&host) {
                    problems.value_with_help(
                        &item_path,
                        format!("duplicate host `{host}` in role `{role}`"),
                        Some(format!("it is already entry {first} of this list; remove one")),
                    );
                } else {
                    positions.insert(host.clone(), hosts.len());
                    hosts.push(host);
                }
            }
            Err(error) => problems.value(&item_path, error.to_string()),
        }
    }
    hosts
}

fn suggest(name: &str, candidates: &[String]) -> Option<String> {
    did_you_mean(name, candidates.iter().map(String::as_str))
}

/// Environments with no host anywhere in the file: a warning, unless hosts are
/// found by EC2 tags.
pub(crate) fn warnings(environments: &IndexMap<String, Environment>, discover_by_tags: bool) -> Vec<Warning> {
    if discover_by_tags {
        return Vec::new();
    }
    environments
        .values()
        .filter(|environment| environment.roles.values().all(|role| role.hosts.is_empty() && role.command.is_none()))
        .map(|environment| Warning {
            key_path: KeyPath::root().key("environments").key(&environment.name),
            message: format!(
                "environment `{}` declares no hosts; add them under `environments.{}.roles`",
                environment.name, environment.name
            ),
        })
        .collect()
}
