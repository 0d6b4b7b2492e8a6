//! What a template sees: `FabulAWS`'s names first (each secret under its own name,
//! then the names `fabulaws.rs` computes), then the configuration's variables for
//! its role, then the built-in names of the deploy, host and layout (which win),
//! so a `FabulAWS` `local_settings.py` template renders unchanged.

use deployer_config::TargetHost;
use minijinja::Value;
use minijinja::value::Serde;

use super::{Compiler, ReleaseInfo};
use crate::templates::secrets_value;

impl Compiler<'_> {
    pub(super) fn template_context(&self, index: usize, host: &TargetHost, role: &str, release: &ReleaseInfo) -> Value {
        let root = &self.environment.deploy_root;
        let vars = self.config.vars_for(self.environment, Some(role));
        // `FabulAWS` set every secret as `env.<name>`: templates use them bare.
        let secrets = secrets_value(&self.config.secrets.names);
        let mut context: Vec<(String, Value)> = self
            .config
            .secrets
            .names
            .iter()
            .filter_map(|name| secrets.get_attr(name).ok().map(|value| (name.clone(), value)))
            .collect();
        context.extend(self.fabulaws_names(host, role, release));
        context.extend(vars.iter().map(|(name, value)| (name.clone(), Value::from(Serde(value)))));
        let static_directory = self.config.static_html.directory.as_str();
        let builtins: [(&str, Value); 18] = [
            ("project", Value::from(self.config.project.as_str())),
            ("deployment", Value::from(self.input.deployment)),
            ("environment", Value::from(self.environment.name.as_str())),
            ("role", Value::from(role)),
            ("roles", Value::from(Serde(&host.roles))),
            ("host", Value::from(host.host.as_str())),
            ("host_index", Value::from(index)),
            ("user", Value::from(Serde(&host.user))),
            ("port", Value::from(Serde(host.port))),
            ("release_id", Value::from(release.id.as_str())),
            ("commit", Value::from(release.revision.commit.as_str())),
            ("branch", Value::from(Serde(&release.revision.branch))),
            ("deploy_root", Value::from(root.as_str())),
            ("release_dir", Value::from(root.join("releases").join(&release.id).as_str())),
            ("current_dir", Value::from(root.join("current").as_str())),
            ("shared_dir", Value::from(root.join("shared").as_str())),
            ("static_html_directory", Value::from(static_directory)),
            ("secrets", secrets),
        ];
        context.push(("vars".to_owned(), Value::from(Serde(&vars))));
        // Built-in names win over variables of the same name.
        context.extend(builtins.into_iter().map(|(name, value)| (name.to_owned(), value)));
        Value::from_pairs(context)
    }
}

/// The role a template is rendered for on `host`: the first of the template's
/// roles the host plays (any role when the template names none).
pub(super) fn template_role<'a>(roles: &[String], host: &'a TargetHost) -> Option<&'a str> {
    if roles.is_empty() {
        return Some(host.roles.first().map_or("", String::as_str));
    }
    host.roles.iter().find(|role| roles.contains(role)).map(String::as_str)
}
