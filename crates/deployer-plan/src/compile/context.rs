//! What a template sees: the configuration's variables for its role, then the
//! built-in names of the deploy, host and layout (which win).

use deployer_config::TargetHost;
use minijinja::Value;
use minijinja::value::Serde;

use super::{Compiler, ReleaseInfo};
use crate::templates::secrets_value;

impl Compiler<'_> {
    pub(super) fn template_context(&self, index: usize, host: &TargetHost, role: &str, release: &ReleaseInfo) -> Value {
        let root = &self.environment.deploy_root;
        let vars = self.config.vars_for(self.environment, Some(role));
        let mut context: Vec<(String, Value)> =
            vars.iter().map(|(name, value)| (name.clone(), Value::from(Serde(value)))).collect();
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
            ("secrets", secrets_value(&self.config.secrets.names)),
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
