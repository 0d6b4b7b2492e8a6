//! Raw YAML → validated [`Config`], reporting every problem in the file at once.

use camino::{Utf8Path, Utf8PathBuf};
use indexmap::IndexMap;
use serde_yaml::Value;

mod aws;
mod ec2;
mod hooks;
mod notify;
mod settings;
mod tasks;

use crate::environments::{self, BranchSources};
use crate::error::{ConfigError, ConfigErrors, Origin, did_you_mean};
use crate::key_path::KeyPath;
use crate::keys::{self, KeyKind};
use crate::model::{Config, HealthCheck, KeyReport, Migrate, Role, SecretsSpec, StaticHtml, TemplateSpec, Vars};
use crate::names::{check_absolute_path, check_name, check_relative_path, check_repository, check_user};
use crate::overrides::{Override, apply_overrides};
use crate::problems::Problems;
use crate::raw::{Commands, RawMigrate, RawRole, RawStaticHtml, RawTemplate};

const DEFAULT_KEEP_RELEASES: u32 = 5;

/// Parses and validates a configuration held in memory. Does no I/O.
pub fn parse_config(file: &Utf8Path, text: &str, overrides: &[Override]) -> Result<Config, ConfigErrors> {
    let fail = |errors: Vec<ConfigError>| ConfigErrors { file: file.to_owned(), text: text.to_owned(), errors };
    let text = crate::limits::check(text).map_err(|message| {
        fail(vec![ConfigError {
            message,
            label: String::new(),
            key_path: KeyPath::root(),
            origin: Origin::Nowhere,
            help: None,
        }])
    })?;
    let fail = |errors: Vec<ConfigError>| ConfigErrors { file: file.to_owned(), text: text.to_owned(), errors };
    let mut document: Value = serde_yaml::from_str(text).map_err(|error| fail(vec![syntax_error(text, &error)]))?;
    let set_origins = apply_overrides(&mut document, overrides).map_err(fail)?;
    let mut problems = Problems::new(set_origins);
    let config = Validator { problems: &mut problems, file }.config(document);
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => Err(fail(problems.into_errors(text))),
    }
}

fn syntax_error(text: &str, error: &serde_yaml::Error) -> ConfigError {
    let full = error.to_string();
    let message = full.rsplit_once(" at line ").map_or(full.as_str(), |(message, _)| message);
    // Duplicate keys: the event index knows the exact place and path of the second one.
    if message.contains("duplicate entry") {
        let locator = crate::locate::Locator::new(text);
        if let Some((path, span)) = locator.duplicates().first() {
            return ConfigError {
                message: format!(
                    "duplicate key `{}`",
                    path.segments().last().map_or_else(String::new, |last| match last {
                        crate::key_path::Segment::Key(key) => key.clone(),
                        crate::key_path::Segment::Index(index) => index.to_string(),
                    })
                ),
                key_path: path.clone(),
                origin: Origin::from(*span),
                label: "this key appears earlier in the same mapping".to_owned(),
                help: Some("each key may appear once per mapping; remove or merge one of them".to_owned()),
            };
        }
    }
    let origin = error.location().map_or(Origin::Nowhere, |location| {
        let (offset, length) = crate::locate::char_span(text, location.index(), 1);
        Origin::File { line: location.line(), column: location.column(), offset, length }
    });
    let message = message.split_once(": ").filter(|(prefix, _)| !prefix.contains(' ')).map_or(message, |(_, m)| m);
    ConfigError {
        message: format!("invalid YAML: {message}"),
        key_path: KeyPath::root(),
        origin,
        label: "here".to_owned(),
        help: None,
    }
}

struct Validator<'a> {
    problems: &'a mut Problems,
    file: &'a Utf8Path,
}

/// The top-level values, sorted by key, before cross-checks.
#[derive(Default)]
struct TopLevel {
    values: IndexMap<String, Value>,
    report: KeyReport,
    template_variables: Vars,
}

impl Validator<'_> {
    fn config(&mut self, document: Value) -> Option<Config> {
        let root = KeyPath::root();
        let Value::Mapping(mapping) = document else {
            let what = if document.is_null() { "the file is empty" } else { "the top level is not a mapping" };
            self.problems
                .value(&root, format!("{what}: expected a mapping with at least `project`, `repo` and `environments`"));
            return None;
        };
        let mut top = TopLevel::default();
        for (key, value) in mapping {
            let Some(name) = key.as_str() else {
                self.problems.key(&root, format!("top-level key `{key:?}` is not a string"), None);
                continue;
            };
            match keys::classify(name) {
                Some(KeyKind::Used) => {
                    top.report.used.push(name.to_owned());
                    top.values.insert(name.to_owned(), value);
                }
                Some(KeyKind::TemplateVariable) => {
                    top.report.template_variables.push(name.to_owned());
                    top.template_variables.insert(name.to_owned(), value);
                }
                Some(KeyKind::Ignored(reason)) => top.report.ignored.push((name.to_owned(), reason.to_owned())),
                None => {
                    self.problems.key(
                        &root.key(name),
                        format!("unknown key `{name}`"),
                        did_you_mean(name, keys::all()),
                    );
                }
            }
        }
        self.build(top)
    }

    fn take<T: serde::de::DeserializeOwned>(&mut self, top: &mut TopLevel, key: &str) -> Option<T> {
        let value = top.values.shift_remove(key)?;
        self.problems.section(&KeyPath::root().key(key), value)
    }

    fn required_string(&mut self, top: &mut TopLevel, key: &str) -> Option<String> {
        let value = self.take::<String>(top, key);
        if value.is_none() && !top.report.used.iter().any(|used| used == key) {
            self.problems.value(&KeyPath::root(), format!("missing required key `{key}`"));
        }
        value
    }

    fn build(&mut self, mut top: TopLevel) -> Option<Config> {
        let root = KeyPath::root();
        let project = self.required_string(&mut top, "project");
        if let Some(project) = &project {
            self.check(&root.key("project"), check_name(project));
        }
        let repo = self.required_string(&mut top, "repo");
        if let Some(repo) = &repo {
            self.check(&root.key("repo"), check_repository(repo));
        }
        if let Some(vcs) = self.take::<String>(&mut top, "vcs_cmd")
            && vcs != "git"
        {
            self.problems.value(&root.key("vcs_cmd"), format!("deployer deploys git repositories only, not `{vcs}`"));
        }
        let (deployments, default_deployment) = self.deployments(&mut top, project.as_deref());
        let deploy_user = self.take::<String>(&mut top, "deploy_user");
        if let Some(user) = &deploy_user {
            self.check(&root.key("deploy_user"), check_user(user));
        }
        let home = self.take::<String>(&mut top, "home");
        if let Some(home) = &home {
            self.check(&root.key("home"), check_absolute_path(home.trim_end_matches('/')));
        }
        let deploy_root = self.take::<String>(&mut top, "deploy_root");
        if let Some(deploy_root) = &deploy_root {
            self.check(&root.key("deploy_root"), check_absolute_path(deploy_root));
        }
        let deploy_base = match (&deploy_root, &home) {
            (Some(root), _) => Utf8PathBuf::from(root.trim_end_matches('/')),
            // FabulAWS keeps each environment under `<home>/www/<environment>`.
            (None, Some(home)) => Utf8PathBuf::from(home.trim_end_matches('/')).join("www"),
            (None, None) => Utf8PathBuf::from("/srv").join(project.as_deref().unwrap_or("app")),
        };
        let keep = self.take::<u32>(&mut top, "keep_releases");
        let keep_releases = self.in_range(&root.key("keep_releases"), keep, DEFAULT_KEEP_RELEASES, 1..=10_000);

        let roles = self.roles(&mut top);
        let role_names: Vec<String> = roles.keys().cloned().collect();
        let branches = top.values.shift_remove("branches");
        let environments_value = top.values.shift_remove("environments");
        let production = self.take::<Vec<String>>(&mut top, "production_environments");
        let environments = environments::build(
            self.problems,
            environments::Inputs {
                value: environments_value,
                branches: BranchSources { value: branches, deployments: &deployments },
                roles: &role_names,
                deploy_base: &deploy_base,
                production: production.as_deref(),
            },
        );

        let migrate = self.migrate(&mut top, &role_names);
        let tasks = self.tasks(&mut top, &role_names);
        let hooks = self.hooks(&mut top, &role_names);
        let notify = self.notify(&mut top);
        let shared_files = self.relative_paths(&mut top, "shared_files");
        let shared_dirs = self.relative_paths(&mut top, "shared_dirs");
        let templates = self.templates(&mut top, &role_names, project.as_deref());
        let static_html = self.static_html(&mut top);
        let secrets = self.secrets(&mut top);
        let ssh = self.ssh(&mut top);
        let execution = self.execution(&mut top);
        let environment_names: Vec<String> = environments.keys().cloned().collect();
        let (aws, ec2) = self.cloud(&mut top, &ec2::Names { environments: &environment_names, roles: &role_names });
        let (autoscaling_groups, target_groups) = self.groups(&mut top, &deployments, &environment_names);
        let (auto_revert_after, rollout) = self.protections(&mut top);
        let mut vars = self.vars(&root.key("vars"), top.values.shift_remove("vars"));
        for (name, value) in std::mem::take(&mut top.template_variables) {
            // An explicit `vars` entry wins over a FabulAWS key of the same name.
            vars.entry(name).or_insert(value);
        }
        let warnings = environments::warnings(&environments, aws.discover_by_tags);

        Some(Config {
            file: self.file.to_owned(),
            project: project?,
            deployments,
            default_deployment,
            repo: repo?,
            environments,
            roles,
            deploy_user,
            keep_releases,
            migrate,
            tasks,
            hooks,
            notify,
            shared_files,
            shared_dirs,
            templates,
            static_html,
            secrets,
            ssh,
            execution,
            aws,
            ec2,
            autoscaling_groups,
            target_groups,
            rollout,
            auto_revert_after,
            vars,
            keys: top.report,
            warnings,
        })
    }

    fn check(&mut self, path: &KeyPath, result: Result<(), String>) {
        if let Err(message) = result {
            self.problems.value(path, message);
        }
    }

    fn deployments(&mut self, top: &mut TopLevel, project: Option<&str>) -> (Vec<String>, Option<String>) {
        let path = KeyPath::root().key("deployments");
        let mut deployments = self.take::<Vec<String>>(top, "deployments").unwrap_or_default();
        for (index, name) in deployments.iter().enumerate() {
            self.check(&path.index(index), check_name(name));
        }
        if deployments.is_empty() {
            deployments.extend(project.map(str::to_owned));
        }
        let default = self.take::<String>(top, "default_deployment");
        if let Some(default) = &default {
            if deployments.contains(default) {
                // The default deployment comes first: environments report its branch.
                deployments.retain(|name| name != default);
                deployments.insert(0, default.clone());
            } else {
                self.problems.value_with_help(
                    &KeyPath::root().key("default_deployment"),
                    format!("`{default}` is not one of the deployments"),
                    did_you_mean(default, deployments.iter().map(String::as_str)),
                );
            }
        }
        (deployments, default)
    }

    fn roles(&mut self, top: &mut TopLevel) -> IndexMap<String, Role> {
        let root = KeyPath::root();
        let valid = self.take::<Vec<String>>(top, "valid_roles");
        let mut roles: IndexMap<String, Role> = IndexMap::new();
        for (index, name) in valid.iter().flatten().enumerate() {
            self.check(&root.key("valid_roles").index(index), check_name(name));
            roles.insert(name.clone(), Role { name: name.clone(), ..Role::default() });
        }
        let settings = self.take::<IndexMap<String, Value>>(top, "roles").unwrap_or_default();
        for (name, value) in settings {
            let path = root.key("roles").key(&name);
            if let Some(valid) = &valid {
                if !valid.contains(&name) {
                    let help = did_you_mean(&name, valid.iter().map(String::as_str))
                        .or_else(|| Some(format!("add `{name}` to `valid_roles`")));
                    self.problems.key(&path, format!("role `{name}` is not in `valid_roles`"), help);
                    continue;
                }
            } else {
                self.check(&path, check_name(&name));
            }
            let raw: RawRole = if value.is_null() {
                RawRole { build: None, restart: None, healthcheck: None, setup: None, vars: None }
            } else if let Some(raw) = self.problems.section(&path, value) {
                raw
            } else {
                continue;
            };
            let role = Role {
                name: name.clone(),
                build: self.commands(&path.key("build"), raw.build),
                restart: self.commands(&path.key("restart"), raw.restart),
                healthcheck: raw.healthcheck.map(|check| {
                    let at = path.key("healthcheck");
                    HealthCheck {
                        command: check.command,
                        retries: self.in_range(&at.key("retries"), check.retries, 0, 0..=1000),
                        interval: self.in_range(&at.key("interval"), check.interval, 2, 0..=settings::HOUR),
                        timeout: self.in_range(&at.key("timeout"), check.timeout, 30, 1..=settings::DAY),
                    }
                }),
                setup: self.commands(&path.key("setup"), raw.setup),
                vars: self.check_vars(&path.key("vars"), raw.vars.unwrap_or_default()),
            };
            roles.insert(name, role);
        }
        roles
    }

    fn commands(&mut self, path: &KeyPath, commands: Option<Commands>) -> Vec<String> {
        let commands = commands.unwrap_or_default().0;
        for (index, command) in commands.iter().enumerate() {
            if command.trim().is_empty() {
                self.problems.value(&path.index(index), "the command is empty");
            } else if command.contains('\0') {
                self.problems.value(&path.index(index), "the command contains a NUL byte");
            }
        }
        commands
    }

    /// The top-level `auto_revert_after` and `rollout`.
    fn protections(&mut self, top: &mut TopLevel) -> (Option<u32>, Option<crate::Rollout>) {
        let root = KeyPath::root();
        let auto_revert_after = top
            .values
            .shift_remove("auto_revert_after")
            .and_then(|value| crate::rollout::auto_revert_after(self.problems, &root.key("auto_revert_after"), &value));
        let rollout = self
            .take::<crate::rollout::RawRollout>(top, "rollout")
            .and_then(|raw| crate::rollout::rollout(self.problems, &root.key("rollout"), raw));
        (auto_revert_after, rollout)
    }

    fn migrate(&mut self, top: &mut TopLevel, roles: &[String]) -> Option<Migrate> {
        let path = KeyPath::root().key("migrate");
        let raw: RawMigrate = self.take(top, "migrate")?;
        self.check_role(&path.key("role"), &raw.role, roles);
        let command = self.commands(&path.key("command"), Some(raw.command));
        Some(Migrate { command, role: raw.role })
    }

    pub(crate) fn check_role(&mut self, path: &KeyPath, role: &str, roles: &[String]) -> bool {
        if roles.iter().any(|known| known == role) {
            return true;
        }
        self.problems.value_with_help(
            path,
            format!("unknown role `{role}`"),
            did_you_mean(role, roles.iter().map(String::as_str))
                .or_else(|| Some(format!("roles are: {}", crate::model::join_names(roles)))),
        );
        false
    }

    fn relative_paths(&mut self, top: &mut TopLevel, key: &str) -> Vec<Utf8PathBuf> {
        let path = KeyPath::root().key(key);
        let paths = self.take::<Vec<String>>(top, key).unwrap_or_default();
        for (index, item) in paths.iter().enumerate() {
            self.check(&path.index(index), check_relative_path(item));
        }
        paths.into_iter().map(Utf8PathBuf::from).collect()
    }

    fn templates(&mut self, top: &mut TopLevel, roles: &[String], project: Option<&str>) -> Vec<TemplateSpec> {
        let root = KeyPath::root();
        let mut templates = Vec::new();
        for (index, value) in self.take::<Vec<Value>>(top, "templates").unwrap_or_default().into_iter().enumerate() {
            let path = root.key("templates").index(index);
            let Some(raw) = self.problems.section::<RawTemplate>(&path, value) else { continue };
            self.check(&path.key("src"), check_local_path(&raw.src));
            self.check(&path.key("dest"), check_relative_path(&raw.dest));
            let template_roles = raw.roles.unwrap_or_default();
            for (role_index, role) in template_roles.iter().enumerate() {
                self.check_role(&path.key("roles").index(role_index), role, roles);
            }
            templates.push(TemplateSpec {
                src: raw.src.into(),
                dest: raw.dest.into(),
                roles: template_roles,
                mode: raw.mode.map(|mode| mode.0),
                key_path: path.key("src"),
            });
        }
        // FabulAWS renders `localsettings_template` into `<project>/<relative path>`.
        if let Some(src) = self.take::<String>(top, "localsettings_template") {
            self.check(&root.key("localsettings_template"), check_local_path(&src));
            let relative = self
                .take::<String>(top, "local_settings_py_relative_path")
                .unwrap_or_else(|| "local_settings.py".to_owned());
            let dest = format!("{}/{relative}", project.unwrap_or("app"));
            self.check(&root.key("local_settings_py_relative_path"), check_relative_path(&dest));
            let app_roles = ["web", "worker"].into_iter().filter(|role| roles.iter().any(|known| known == role));
            templates.push(TemplateSpec {
                src: src.into(),
                dest: dest.into(),
                roles: app_roles.map(str::to_owned).collect(),
                mode: None,
                key_path: root.key("localsettings_template"),
            });
        }
        templates
    }

    fn static_html(&mut self, top: &mut TopLevel) -> StaticHtml {
        let path = KeyPath::root().key("static_html");
        let raw: RawStaticHtml = self.take(top, "static_html").unwrap_or_default();
        for (key, value) in
            [("upgrade_message", &raw.upgrade_message), ("healthcheck_override", &raw.healthcheck_override)]
        {
            if let Some(value) = value {
                self.check(&path.key(key), check_local_path(value));
            }
        }
        let directory = raw.directory.unwrap_or_else(|| "maintenance".to_owned());
        let result =
            if directory.starts_with('/') { check_absolute_path(&directory) } else { check_relative_path(&directory) };
        self.check(&path.key("directory"), result);
        StaticHtml {
            upgrade_message: raw.upgrade_message.map(Into::into),
            healthcheck_override: raw.healthcheck_override.map(Into::into),
            directory: directory.into(),
        }
    }

    fn secrets(&mut self, top: &mut TopLevel) -> SecretsSpec {
        let path = KeyPath::root().key("password_names");
        let names = self.take::<Vec<String>>(top, "password_names").unwrap_or_default();
        for (index, name) in names.iter().enumerate() {
            self.check(&path.index(index), check_name(name));
            if names[..index].contains(name) {
                self.problems.value(&path.index(index), format!("secret `{name}` is listed twice"));
            }
        }
        let file_pattern =
            self.take::<String>(top, "secrets_file").unwrap_or_else(|| "fabsecrets_{environment}.py".to_owned());
        self.check(&KeyPath::root().key("secrets_file"), check_local_path(&file_pattern));
        SecretsSpec { names, file_pattern }
    }

    fn vars(&mut self, path: &KeyPath, value: Option<Value>) -> Vars {
        let vars: Vars = value.and_then(|value| self.problems.section(path, value)).unwrap_or_default();
        self.check_vars(path, vars)
    }

    fn check_vars(&mut self, path: &KeyPath, vars: Vars) -> Vars {
        check_var_names(self.problems, path, &vars);
        vars
    }
}

/// Template variable names must be identifiers so templates can name them.
pub(crate) fn check_var_names(problems: &mut Problems, path: &KeyPath, vars: &Vars) {
    for name in vars.keys() {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            problems.key(
                &path.key(name),
                format!("variable name `{name}` is not an identifier"),
                Some("use letters, digits and `_`, starting with a letter or `_`".to_owned()),
            );
        }
    }
}

/// A path on the machine running deployer: anything printable.
fn check_local_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the path is empty".to_owned());
    }
    match path.chars().find(|c| c.is_control()) {
        Some(bad) => Err(format!("the path contains {}", crate::names::describe(bad))),
        None => Ok(()),
    }
}
