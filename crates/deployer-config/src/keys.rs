//! The top-level keys of `fabulaws-config.yml` and what deployer does with each.
//!
//! A `FabulAWS` user's existing file must load: keys deployer uses are validated, keys
//! that only configure the application are handed to templates as variables, and
//! keys for what deployer does not do are accepted and reported as ignored. Anything else is an
//! unknown key, reported with a did-you-mean.

/// How deployer treats a top-level key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Read and validated by deployer.
    Used,
    /// A `FabulAWS` application setting, passed to templates as a variable of the same name.
    TemplateVariable,
    /// A `FabulAWS` key deployer accepts but does not act on; the text says why.
    Ignored(&'static str),
}

/// Keys deployer reads. Names follow `FabulAWS` where it has one for the concept.
pub const USED: &[&str] = &[
    "auto_revert_after",
    "auto_scaling_groups",
    "avail_zones",
    "aws",
    "branches",
    "default_deployment",
    "deploy_root",
    "deploy_user",
    "deployments",
    "ec2_attr_for_ssh",
    "environments",
    "execution",
    "home",
    "hooks",
    "instance_settings",
    "instance_types",
    "keep_releases",
    "local_settings_py_relative_path",
    "localsettings_template",
    "migrate",
    "notify",
    "password_names",
    "production_environments",
    "project",
    "region",
    "repo",
    "roles",
    "rollout",
    "secrets_file",
    "security_groups",
    "shared_dirs",
    "shared_files",
    "ssh",
    "static_html",
    "subnets",
    "target_groups",
    "tasks",
    "templates",
    "valid_roles",
    "vars",
    "vcs_cmd",
    "volume_sizes",
    "volume_types",
];

/// `FabulAWS` keys that configure the application, not the deployment.
pub const TEMPLATE_VARIABLES: &[&str] = &[
    "celery_application",
    "celery_workers",
    "database_host",
    "database_user",
    "gunicorn_timeout",
    "gunicorn_worker_class",
    "gunicorn_worker_multiplier",
    "pgbouncer_port",
    "python",
    "requirements_file",
    "server_ports",
    "settings_managepy",
    "site_domains_map",
    "static_hosting",
    "use_basic_auth",
    "webserver_user",
    "wsgi_app",
];

const LOAD_BALANCERS: &str =
    "classic load balancers: deployer takes hosts out of and back into ELBv2 target groups (`target_groups`) instead";
const AGENTS: &str = "server provisioning (logging and monitoring agents)";

/// `FabulAWS` keys accepted and ignored, with the reason shown by `deployer check`.
pub const IGNORED: &[(&str, &str)] = &[
    ("app_server_packages", "package installation; put it in a role's `setup` commands"),
    ("awslogs_access_key_id", AGENTS),
    ("backup_key_fingerprint", "database backups are not part of deploys"),
    ("cloudfront_distribution_ids", "CDN invalidation; run it from a role's `build` or `restart` commands"),
    ("db_settings", "database server provisioning"),
    ("disable_known_hosts", "deployer never disables host-key checking; use `ssh.known_hosts: accept-new`"),
    ("extra_log_files", AGENTS),
    ("gelf_log_host", AGENTS),
    ("latest_changeset_cmd", "deployer resolves the branch to a commit itself"),
    ("less_version", "server provisioning"),
    ("load_balancers", LOAD_BALANCERS),
    ("log_host", AGENTS),
    ("logstash_config", AGENTS),
    ("node_version", "server provisioning"),
    ("requirements_sdists", "dependency installation belongs in a role's `build` commands"),
    ("ssh_keys", "sysadmin user management"),
    ("syslog_server", AGENTS),
];

/// Classifies a top-level key; `None` means unknown.
pub fn classify(key: &str) -> Option<KeyKind> {
    if USED.contains(&key) {
        return Some(KeyKind::Used);
    }
    if TEMPLATE_VARIABLES.contains(&key) {
        return Some(KeyKind::TemplateVariable);
    }
    IGNORED.iter().find(|(name, _)| *name == key).map(|(_, reason)| KeyKind::Ignored(reason))
}

/// Every key a user could have meant, for did-you-mean suggestions.
pub fn all() -> impl Iterator<Item = &'static str> {
    USED.iter().chain(TEMPLATE_VARIABLES).copied().chain(IGNORED.iter().map(|(name, _)| *name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for key in all() {
            assert!(seen.insert(key), "`{key}` is listed twice");
        }
    }

    #[test]
    fn classifies() {
        assert_eq!(classify("deploy_user"), Some(KeyKind::Used));
        assert_eq!(classify("wsgi_app"), Some(KeyKind::TemplateVariable));
        assert!(matches!(classify("load_balancers"), Some(KeyKind::Ignored(_))));
        assert_eq!(classify("keep_relases"), None);
    }
}
