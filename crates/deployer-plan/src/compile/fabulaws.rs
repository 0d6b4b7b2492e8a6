//! The names `FabulAWS`'s `_setup_env` and `update_local_settings` put in a
//! template's context, computed the same way, so a `FabulAWS` `local_settings.py`
//! renders unchanged. Variables of the same name in the configuration win.
//!
//! `FabulAWS` server objects (`cache_server`, `master_database`, the entries of
//! `all_databases` and `slave_databases`) are [`Server`]s: they print as the host
//! name, as `FabulAWS`'s did in most templates, and have the attributes templates
//! read (`internal_ip`, `database_key`, `database_local_name`, `stunnel_port`).

use std::sync::Arc;

use deployer_config::TargetHost;
use minijinja::Value;
use minijinja::value::{Object, ObjectRepr, Serde};
use serde_yaml::Value as Yaml;

use super::{Compiler, ReleaseInfo};

/// `FabulAWS`'s first stunnel port; each database gets the next one.
const FIRST_STUNNEL_PORT: u16 = 7432;

/// A `FabulAWS` server as its templates see one.
#[derive(Debug, Clone)]
pub(super) struct Server {
    hostname: String,
    database_key: Option<String>,
    database_local_name: Option<String>,
    stunnel_port: Option<u16>,
}

impl Server {
    fn new(hostname: String) -> Self {
        Self { hostname, database_key: None, database_local_name: None, stunnel_port: None }
    }

    fn database(hostname: String, key: String, local_name: String, stunnel_port: u16) -> Self {
        Self {
            hostname,
            database_key: Some(key),
            database_local_name: Some(local_name),
            stunnel_port: Some(stunnel_port),
        }
    }

    fn value(&self) -> Value {
        Value::from_object(self.clone())
    }
}

impl Object for Server {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            // deployer knows one address per host: the one it connects to.
            "hostname" | "internal_ip" | "private_ip_address" | "public_dns_name" => {
                Some(Value::from(self.hostname.as_str()))
            }
            "database_key" => self.database_key.as_deref().map(Value::from),
            "database_local_name" => self.database_local_name.as_deref().map(Value::from),
            "stunnel_port" => self.stunnel_port.map(Value::from),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hostname)
    }
}

/// The environment's servers by `FabulAWS` role, computed once per plan.
#[derive(Debug, Default)]
pub(super) struct Servers {
    cache: Option<Server>,
    primary: Option<Server>,
    replicas: Vec<Server>,
}

impl Servers {
    /// `FabulAWS`'s rules: the first `cache` host; the first `db-primary` host,
    /// whose database key is `default`; every `db-replica` host as `replica<i>`;
    /// stunnel ports from 7432 over the primary then the replicas. The older role
    /// names `db-master` and `db-slave` count too.
    fn compute(compiler: &Compiler<'_>) -> Self {
        let database = database_name(compiler);
        let mut port = FIRST_STUNNEL_PORT;
        let mut next_port = || {
            let this = port;
            port = port.saturating_add(1);
            this
        };
        let primary = compiler
            .hosts_of(&["db-primary", "db-master"])
            .into_iter()
            .next()
            .map(|host| Server::database(host, "default".to_owned(), database.clone(), next_port()));
        let replicas = compiler
            .hosts_of(&["db-replica", "db-slave"])
            .into_iter()
            .enumerate()
            .map(|(index, host)| {
                let key = format!("replica{index}");
                let local_name = format!("{database}_{key}");
                Server::database(host, key, local_name, next_port())
            })
            .collect();
        let cache = compiler.hosts_of(&["cache"]).into_iter().next().map(Server::new);
        Self { cache, primary, replicas }
    }
}

fn database_name(compiler: &Compiler<'_>) -> String {
    format!("{}_{}", compiler.config.project, compiler.environment.name)
}

impl Compiler<'_> {
    /// `FabulAWS`'s computed names for `host` in `role`.
    pub(super) fn fabulaws_names(&self, host: &TargetHost, role: &str, release: &ReleaseInfo) -> Vec<(String, Value)> {
        let servers = self.servers.get_or_init(|| Servers::compute(self));
        let environment = self.environment.name.as_str();
        let deployment = self.input.deployment;
        let project = self.config.project.as_str();
        let release_dir = self.environment.deploy_root.join("releases").join(&release.id);
        let shared_dir = self.environment.deploy_root.join("shared");
        let mut names: Vec<(&str, Value)> = vec![
            ("deployment_tag", Value::from(deployment)),
            ("current_role", Value::from(role)),
            ("current_changeset", Value::from(release.revision.commit.as_str())),
            ("database_name", Value::from(database_name(self))),
            ("vhost", Value::from(format!("{project}_{environment}"))),
            ("staticfiles_s3_bucket", Value::from(format!("{deployment}-{environment}-static-files"))),
            // `FabulAWS` paths, mapped onto the release layout: the code and its
            // virtualenv belong to the release, uploads and logs outlive it.
            ("code_root", Value::from(release_dir.as_str())),
            ("project_root", Value::from(release_dir.join(project).as_str())),
            ("virtualenv_root", Value::from(release_dir.join("env").as_str())),
            ("static_root", Value::from(release_dir.join("static_media").as_str())),
            ("media_root", Value::from(shared_dir.join("uploaded_media").as_str())),
            ("log_dir", Value::from(shared_dir.join("log").as_str())),
        ];
        if let Some(user) = &self.config.deploy_user {
            names.push(("deploy_user", Value::from(user.as_str())));
        }
        let site_domains = self.site_domains();
        if let Some(domains) = &site_domains {
            names.push(("site_domains", Value::from(Serde(domains))));
        }
        // `FabulAWS` adds the server's own names to the site's domains.
        let mut allowed_hosts = site_domains.unwrap_or_default();
        allowed_hosts.push(host.host.clone());
        names.push(("allowed_hosts", Value::from(allowed_hosts)));
        if let Some(port) = self.by_environment("server_ports") {
            names.push(("server_port", Value::from(Serde(port))));
        }
        if let Some(cache) = &servers.cache {
            names.push(("cache_server", cache.value()));
        }
        let mut all_databases = Vec::new();
        if let Some(primary) = &servers.primary {
            names.push(("master_database", primary.value()));
            names.push(("primary_database", primary.value()));
            all_databases.push(primary.value());
        }
        all_databases.extend(servers.replicas.iter().map(Server::value));
        // With no replica, `FabulAWS` reads from the primary.
        let replicas: Vec<Value> = if servers.replicas.is_empty() {
            servers.primary.iter().map(Server::value).collect()
        } else {
            servers.replicas.iter().map(Server::value).collect()
        };
        names.push(("all_databases", Value::from(all_databases)));
        names.push(("slave_databases", Value::from(replicas.clone())));
        names.push(("replica_databases", Value::from(replicas)));
        names.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
    }

    /// `site_domains_map.<environment>` as a list of strings, when the file has one.
    fn site_domains(&self) -> Option<Vec<String>> {
        let domains = self.by_environment("site_domains_map")?.as_sequence()?;
        Some(domains.iter().filter_map(Yaml::as_str).map(str::to_owned).collect())
    }

    /// `<key>.<environment>` of a top-level `FabulAWS` application key.
    fn by_environment(&self, key: &str) -> Option<&Yaml> {
        self.config.vars.get(key)?.get(self.environment.name.as_str())
    }

    /// Host names of the first of `roles` that has hosts: the targeted hosts
    /// playing it, else the ones the environment lists.
    fn hosts_of(&self, roles: &[&str]) -> Vec<String> {
        for role in roles {
            let targeted: Vec<String> = self
                .hosts
                .iter()
                .filter(|host| host.roles.iter().any(|played| played == role))
                .map(|host| host.host.clone())
                .collect();
            if !targeted.is_empty() {
                return targeted;
            }
            if let Some(listed) = self.environment.roles.get(*role).filter(|listed| !listed.hosts.is_empty()) {
                return listed.hosts.iter().map(|host| host.host.clone()).collect();
            }
        }
        Vec::new()
    }
}
