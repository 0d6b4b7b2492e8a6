//! The validated configuration: every value here has passed the checks in `names.rs`
//! and `host_string.rs`, and every cross-reference (role, environment) resolves.

use camino::Utf8PathBuf;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::host_string::HostString;
use crate::key_path::KeyPath;

/// Template variables: name → any YAML value. Insertion order is kept so output is stable.
pub type Vars = IndexMap<String, serde_yaml::Value>;

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The file this was loaded from.
    pub file: Utf8PathBuf,
    pub project: String,
    /// `FabulAWS` deployment names; `[project]` when the file names none.
    pub deployments: Vec<String>,
    /// `FabulAWS` `default_deployment`: used when the command line names no deployment.
    pub default_deployment: Option<String>,
    pub repo: String,
    pub environments: IndexMap<String, Environment>,
    /// Every valid role in declaration order, with its commands.
    pub roles: IndexMap<String, Role>,
    pub deploy_user: Option<String>,
    pub keep_releases: u32,
    pub migrate: Option<Migrate>,
    /// Named tasks (`tasks:`), run with `deployer task ENV NAME`.
    pub tasks: IndexMap<String, Task>,
    /// The team's own steps at phase boundaries (`hooks:`), in the file's order.
    pub hooks: Vec<Hook>,
    /// Where runs are reported (`notify:`).
    pub notify: Notify,
    pub shared_files: Vec<Utf8PathBuf>,
    pub shared_dirs: Vec<Utf8PathBuf>,
    pub templates: Vec<TemplateSpec>,
    pub static_html: StaticHtml,
    pub secrets: SecretsSpec,
    pub ssh: SshSettings,
    pub execution: ExecutionSettings,
    /// How to reach the AWS API, and whether hosts are found by EC2 tags.
    pub aws: AwsSettings,
    /// `FabulAWS`'s EC2 keys, for the servers `create_environment` launches.
    pub ec2: crate::ec2::Ec2Settings,
    /// `FabulAWS`'s `auto_scaling_groups`.
    pub autoscaling_groups: AutoScalingGroups,
    /// `target_groups`: the `ELBv2` target groups an environment's web servers
    /// (outside an Auto Scaling group) serve behind.
    pub target_groups: TargetGroups,
    /// The top-level `rollout:` (waves for `deploy_serial`).
    pub rollout: Option<crate::Rollout>,
    /// Seconds after which a host reverts a deploy that was not confirmed (the
    /// dead-man's switch), unless an environment says otherwise.
    pub auto_revert_after: Option<u32>,
    /// Global template variables, including `FabulAWS` application keys.
    pub vars: Vars,
    /// What deployer did with each top-level key.
    pub keys: KeyReport,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    /// The branch of the default deployment.
    pub branch: String,
    /// deployment → branch, for files that use `FabulAWS`'s `branches.<deployment>.<environment>`.
    pub branches: IndexMap<String, String>,
    /// The directory holding `releases/`, `current` and `shared/` on each host.
    pub deploy_root: Utf8PathBuf,
    /// The bastion every host of this environment is reached through, unless
    /// its role names another; beats `ssh.gateway`.
    pub gateway: Option<HostString>,
    /// Listed in `production_environments`: commands ask for confirmation.
    pub production: bool,
    pub vars: Vars,
    /// role → its hosts in this environment, in the order written.
    pub roles: IndexMap<String, RoleHosts>,
    /// This environment's `rollout:`, which replaces the top-level one.
    pub rollout: Option<crate::Rollout>,
    /// This environment's `auto_revert_after`, which replaces the top-level one.
    pub auto_revert_after: Option<u32>,
}

impl Environment {
    /// The branch this environment deploys for `deployment`.
    pub fn branch_for(&self, deployment: &str) -> &str {
        self.branches.get(deployment).map_or(self.branch.as_str(), String::as_str)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleHosts {
    /// Hosts written in the file.
    pub hosts: Vec<HostString>,
    /// A local command that prints more hosts; run only when the role is targeted.
    pub command: Option<String>,
    pub connection: Connection,
    /// The bastion this role's hosts are reached through, beating the
    /// environment's and `ssh.gateway`.
    pub gateway: Option<HostString>,
    pub vars: Vars,
    /// Where this entry is in the file, for errors found later (e.g. bad command output).
    #[serde(skip)]
    pub key_path: KeyPath,
}

/// How deployer reaches a host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connection {
    /// Through the system OpenSSH client.
    #[default]
    Ssh,
    /// On this machine, without ssh (Fabric's `local()`, Ansible's `connection: local`).
    Local,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Role {
    pub name: String,
    /// Run in each new release on the role's hosts, before the switch.
    pub build: Vec<String>,
    /// Run after `current` switches.
    pub restart: Vec<String>,
    pub healthcheck: Option<HealthCheck>,
    /// Run once per host by `create_environment`.
    pub setup: Vec<String>,
    pub vars: Vars,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthCheck {
    pub command: String,
    /// Extra attempts after the first failure.
    pub retries: u32,
    /// Seconds between attempts.
    pub interval: u32,
    /// Seconds one attempt may take.
    pub timeout: u32,
}

/// The migration command, run once per deploy on one host of `role`.
#[derive(Debug, Clone, Serialize)]
pub struct Migrate {
    pub command: Vec<String>,
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateSpec {
    /// Relative to the directory of the configuration file.
    pub src: Utf8PathBuf,
    /// Relative to the release directory.
    pub dest: Utf8PathBuf,
    /// Roles whose hosts get it; empty means every host.
    pub roles: Vec<String>,
    /// The file mode the configuration gives; without one, a rendered file is
    /// 0600 when it holds a secret and 0644 otherwise.
    pub mode: Option<u32>,
    /// Where it was declared, for errors about the source file.
    #[serde(skip)]
    pub key_path: KeyPath,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StaticHtml {
    /// The maintenance page served with status 503 (`503.html`).
    pub upgrade_message: Option<Utf8PathBuf>,
    /// The page that keeps a load balancer's health check green (`healthcheck.html`).
    pub healthcheck_override: Option<Utf8PathBuf>,
    /// Where on each host the pages go; relative paths are under the deploy root.
    pub directory: Utf8PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretsSpec {
    /// `FabulAWS` `password_names`.
    pub names: Vec<String>,
    /// The local file holding the values, with `{environment}` replaced per environment.
    pub file_pattern: String,
}

/// The `aws:` section, with `FabulAWS`'s `region` and `ec2_attr_for_ssh`.
/// Credentials are never here: they come from the SDK's standard chain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AwsSettings {
    /// `aws.region`, else `FabulAWS`'s `region`, else the SDK's own (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// A profile of `~/.aws/config` (SSO and `credential_process` included).
    pub profile: Option<String>,
    /// An emulator's endpoint (moto, `LocalStack`); real AWS when absent.
    pub endpoint_url: Option<String>,
    /// `aws.discover: tags`: roles an environment gives no hosts are found by the
    /// `deployment`, `environment` and `role` tags of running instances.
    pub discover_by_tags: bool,
    /// Which address of a found instance deployer connects to.
    pub ssh_address: SshAddress,
    /// `aws.key_name`: the EC2 key pair of the servers deployer launches.
    pub key_name: Option<String>,
    /// `aws.servers`: how many servers of each role `create_environment` makes sure
    /// run (`FabulAWS`'s `_find` by environment and role); one of each role found
    /// by tags when absent.
    pub servers: Option<crate::ec2::ByEnvironmentRole<u32>>,
    /// `aws.launch_attempts`: `create_environment` runs this many times at most when
    /// it launched servers and failed (each failed attempt terminates what it launched).
    pub launch_attempts: u32,
    pub timeouts: crate::ec2::AwsTimeouts,
    /// `aws.autoscaling_role`: the role the Auto Scaling group's servers play
    /// (`FabulAWS`: `web`); `create_image` builds its image.
    pub autoscaling_role: String,
    /// `aws.images_keep`: release images (and the launch template versions that
    /// launch them) kept per role; older ones are removed after a new one is made.
    pub images_keep: u32,
    /// `aws.deploy_serial`: how `deploy_serial` replaces a group's instances.
    pub deploy_serial: GroupReplacement,
}

/// How `deploy_serial` replaces the instances of an Auto Scaling group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupReplacement {
    /// deployer grows the group by a batch, checks the new instances over ssh,
    /// registers them and culls as many old ones, batch by batch.
    #[default]
    Replace,
    /// AWS's instance refresh (launch before terminate), which keeps going if
    /// deployer dies; the new instances are checked over ssh when it ends.
    Refresh,
}

impl AwsSettings {
    /// How many servers of `role` `environment` should have.
    pub fn servers_for(&self, environment: &str, role: &str) -> u32 {
        self.servers.as_ref().map_or(1, |servers| servers.find(environment, role).copied().unwrap_or(0))
    }
}

/// A named task: commands run in `current` on the hosts of some roles.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub name: String,
    pub description: Option<String>,
    pub commands: Vec<String>,
    /// The roles whose hosts run it; every targeted host when empty.
    pub roles: Vec<String>,
    /// On one host only (Fabric's `runs_once`).
    pub once: bool,
    /// One host at a time.
    pub serial: bool,
    /// Seconds each host may take.
    pub timeout: u32,
}

/// Where a hook runs in a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    /// Once the lock is held, before anything else.
    BeforeDeploy,
    BeforePrepare,
    /// The release is complete on every host; nothing is live.
    AfterPrepare,
    /// Only in deploys that migrate.
    BeforeMigrate,
    AfterMigrate,
    /// The last moment nothing is switched: a failure here changes nothing live.
    BeforeSwitch,
    AfterSwitch,
    BeforeRestart,
    AfterRestart,
    /// After the run, when the deploy succeeded (the lock is released).
    AfterDeploy,
    /// After the run, when the deploy failed (after its undo), whether or not it
    /// had switched.
    OnFailure,
    /// After the run, when the deploy failed after switching and switched back.
    OnRollback,
}

impl HookPoint {
    pub const ALL: [Self; 12] = [
        Self::BeforeDeploy,
        Self::BeforePrepare,
        Self::AfterPrepare,
        Self::BeforeMigrate,
        Self::AfterMigrate,
        Self::BeforeSwitch,
        Self::AfterSwitch,
        Self::BeforeRestart,
        Self::AfterRestart,
        Self::AfterDeploy,
        Self::OnFailure,
        Self::OnRollback,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::BeforeDeploy => "before_deploy",
            Self::BeforePrepare => "before_prepare",
            Self::AfterPrepare => "after_prepare",
            Self::BeforeMigrate => "before_migrate",
            Self::AfterMigrate => "after_migrate",
            Self::BeforeSwitch => "before_switch",
            Self::AfterSwitch => "after_switch",
            Self::BeforeRestart => "before_restart",
            Self::AfterRestart => "after_restart",
            Self::AfterDeploy => "after_deploy",
            Self::OnFailure => "on_failure",
            Self::OnRollback => "on_rollback",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|point| point.name() == name)
    }

    /// Whether it runs after the run's outcome is fixed, rather than inside it.
    pub fn follows_the_outcome(self) -> bool {
        matches!(self, Self::AfterDeploy | Self::OnFailure | Self::OnRollback)
    }
}

/// The steps of one hook point.
#[derive(Debug, Clone, Serialize)]
pub struct Hook {
    pub point: HookPoint,
    pub steps: Vec<HookStep>,
}

/// One step of a hook.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "on")]
pub enum HookStep {
    /// On the hosts of `roles` (every targeted host when empty), or on one of them (`once`).
    Run { command: String, roles: Vec<String>, once: bool, timeout: u32 },
    /// On the machine running deployer, in the configuration's directory.
    Local { command: String, timeout: u32 },
}

/// `notify:`: where runs are reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Notify {
    /// Seconds one delivery attempt may take.
    pub timeout: u32,
    /// Attempts per message before it is given up (and reported).
    pub attempts: u32,
    pub webhook: Option<WebhookTarget>,
    /// The secret whose value is a Slack-compatible incoming-webhook URL.
    pub slack_secret: Option<String>,
    pub github: Option<GitHubTarget>,
}

impl Notify {
    pub fn is_empty(&self) -> bool {
        self.webhook.is_none() && self.slack_secret.is_none() && self.github.is_none()
    }

    /// Whether a target needs a value from the secrets file.
    pub fn names_a_secret(&self) -> bool {
        self.slack_secret.is_some()
            || self.webhook.as_ref().is_some_and(|hook| hook.secret.is_some())
            || self.github.as_ref().is_some_and(|github| github.token_secret.is_some())
    }
}

/// GitHub Deployments for `repository` (`owner/name`).
#[derive(Debug, Clone, Serialize)]
pub struct GitHubTarget {
    pub repository: String,
    /// The secret whose value is the token; else `GITHUB_TOKEN`.
    pub token_secret: Option<String>,
    /// `https://api.github.com`, or a GitHub Enterprise API.
    pub api_url: String,
}

/// A generic webhook: deployer's versioned JSON, signed when `secret` names one.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: Option<String>,
}

/// `FabulAWS`'s `auto_scaling_groups`, looked up by its `_find` rule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AutoScalingGroups(pub IndexMap<String, ByDeployment<String>>);

/// One entry of a key looked up by deployment and environment
/// (`auto_scaling_groups`, `target_groups`): a value for a deployment or an
/// environment, or a deployment's values by environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ByDeployment<T> {
    One(T),
    ByEnvironment(IndexMap<String, T>),
}

/// `deployment`'s `environment` in `entries`: `[deployment][environment]`, else
/// `[deployment]` when it is one value, else `[environment]` (`FabulAWS`'s `_find`).
fn find<'a, T>(entries: &'a IndexMap<String, ByDeployment<T>>, deployment: &str, environment: &str) -> Option<&'a T> {
    match entries.get(deployment) {
        Some(ByDeployment::ByEnvironment(values)) => values.get(environment),
        Some(ByDeployment::One(value)) => Some(value),
        None => match entries.get(environment) {
            Some(ByDeployment::One(value)) => Some(value),
            _ => None,
        },
    }
}

impl AutoScalingGroups {
    /// The group of `deployment`'s `environment`.
    pub fn group(&self, deployment: &str, environment: &str) -> Option<&str> {
        find(&self.0, deployment, environment).map(String::as_str)
    }
}

/// `target_groups`, looked up like `auto_scaling_groups`, each entry a list of
/// names or ARNs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetGroups(pub IndexMap<String, ByDeployment<Vec<String>>>);

impl TargetGroups {
    /// The target groups of `deployment`'s `environment` (none when not configured).
    pub fn of(&self, deployment: &str, environment: &str) -> &[String] {
        find(&self.0, deployment, environment).map_or(&[], Vec::as_slice)
    }
}

/// `FabulAWS`'s `ec2_attr_for_ssh`: the instance attribute that becomes the host string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SshAddress {
    /// `FabulAWS`'s default.
    #[default]
    PublicDnsName,
    PublicIpAddress,
    PrivateDnsName,
    PrivateIpAddress,
}

#[derive(Debug, Clone, Serialize)]
pub struct SshSettings {
    pub connect_timeout: u32,
    /// Handshakes in flight at once to one sshd (host and port): its
    /// `MaxStartups` (10:30:100 by default) starts dropping unauthenticated
    /// connections past 10. Distinct hosts connect in parallel (at most 64).
    pub connect_concurrency: u32,
    /// New handshakes started per second at most (`None`: as fast as
    /// `connect_concurrency` allows).
    pub connect_rate: Option<u32>,
    /// `ssh` connections open at once; hosts beyond it are connected for the
    /// phases they work in and closed after (`None`: every host stays connected).
    pub max_connections: Option<u32>,
    pub connection_attempts: u32,
    /// Seconds between keepalives; a host that misses three is given up on.
    pub keepalive_interval: u32,
    pub gateway: Option<HostString>,
    pub identity_file: Option<Utf8PathBuf>,
    pub known_hosts: KnownHosts,
    pub known_hosts_file: Option<Utf8PathBuf>,
    pub forward_agent: bool,
    pub port: Option<u16>,
    pub key_exchange: KeyExchange,
    /// Seconds a directly reached host's master outlives the run, so the next
    /// run (a deploy right after `status` or another deploy) reuses it without
    /// a handshake (`None`: masters end with the run). `deployer disconnect`
    /// closes them sooner.
    pub control_persist: Option<u32>,
}

/// The key exchange ssh offers. Host keys are checked the same either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyExchange {
    /// OpenSSH's own choice: a post-quantum hybrid on current versions
    /// (`sntrup761x25519-sha512`, `mlkem768x25519-sha256`), which protects recorded
    /// sessions against a future quantum computer, at about 70 ms of client CPU
    /// per connection (OpenSSH 9.2, this project's machine).
    #[default]
    Default,
    /// `curve25519-sha256` only: classical elliptic-curve Diffie-Hellman, about
    /// 12 ms of client CPU per connection, without the post-quantum protection.
    Curve25519,
}

/// Host-key policy. There is deliberately no "off".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnownHosts {
    /// `StrictHostKeyChecking=yes`: unknown or changed keys are refused.
    #[default]
    Strict,
    /// `StrictHostKeyChecking=accept-new`: unknown keys are learned, changed keys refused.
    AcceptNew,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExecutionSettings {
    /// Hosts worked on at once within a phase.
    pub pool_size: u32,
    /// Hosts switched at once by `deploy_serial`.
    pub batch_size: u32,
    /// Leave unreachable hosts out instead of aborting.
    pub skip_bad_hosts: bool,
    /// Seconds any one remote step may run.
    pub command_timeout: u32,
    /// Hosts fetching from the git server at once; when set, the fetch is a phase
    /// of its own with this pool size.
    pub fetch_concurrency: Option<u32>,
    /// How the code reaches the hosts.
    pub fetch_strategy: FetchStrategy,
    /// Releases are hard links into a pristine tree on the host (a checkout git
    /// updates, or with `push` the unpacked archives, updated by deltas): a
    /// redeploy writes, and with `push` receives, only the files that changed.
    pub hardlink_releases: bool,
    /// How the `push` strategy's archive is compressed.
    pub push_compression: PushCompression,
}

/// How the `push` strategy compresses its archive: made once per deploy, then
/// read by every host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushCompression {
    /// gzip (level 1): every host can read it.
    #[default]
    Gzip,
    /// zstd (level 1): about half the host's CPU of gzip to extract, and less
    /// of this machine's to make; hosts need the `zstd` program.
    Zstd,
}

/// How a release's code reaches the hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchStrategy {
    /// Each host fetches the pinned commit from `repo` into its mirror.
    #[default]
    Git,
    /// The controller makes an archive of the pinned commit and sends it to each
    /// host over the deploy's own connection: hosts need no access to the git
    /// server (no deploy keys on servers).
    Push,
}

/// What `deployer check` reports about the keys it found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyReport {
    pub used: Vec<String>,
    pub template_variables: Vec<String>,
    /// (key, reason)
    pub ignored: Vec<(String, String)>,
}

/// Something worth telling the user that does not stop the command.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    pub key_path: KeyPath,
    pub message: String,
}

impl Config {
    /// The project's directory: where the configuration file is, `.` for a bare
    /// file name (`-c fabulaws-config.yml`), never an empty path.
    pub fn directory(&self) -> &camino::Utf8Path {
        self.file.parent().filter(|parent| !parent.as_str().is_empty()).unwrap_or(camino::Utf8Path::new("."))
    }

    /// The environment called `name`, or an error with a did-you-mean.
    pub fn environment(&self, name: &str) -> Result<&Environment, crate::SelectionError> {
        self.environments.get(name).ok_or_else(|| crate::SelectionError::UnknownEnvironment {
            name: name.to_owned(),
            help: crate::error::did_you_mean(name, self.environments.keys().map(String::as_str))
                .unwrap_or_else(|| format!("environments are: {}", join_names(self.environments.keys()))),
        })
    }

    /// Template variables for `role` in `environment`; the most specific wins:
    /// top level < role < environment < the environment's entry for the role.
    pub fn vars_for(&self, environment: &Environment, role: Option<&str>) -> Vars {
        let mut vars = self.vars.clone();
        let role_settings = role.and_then(|role| self.roles.get(role));
        let role_entry = role.and_then(|role| environment.roles.get(role));
        for layer in
            [role_settings.map(|role| &role.vars), Some(&environment.vars), role_entry.map(|entry| &entry.vars)]
                .into_iter()
                .flatten()
        {
            vars.extend(layer.iter().map(|(name, value)| (name.clone(), value.clone())));
        }
        vars
    }

    /// The rollout `deploy_serial` uses in `environment`: its own, else the top-level one.
    pub fn rollout_for<'a>(&'a self, environment: &'a Environment) -> Option<&'a crate::Rollout> {
        environment.rollout.as_ref().or(self.rollout.as_ref())
    }

    /// Every local file the configuration names (templates and maintenance pages),
    /// relative to its directory, with the key that names it.
    pub fn local_files(&self) -> Vec<(KeyPath, Utf8PathBuf)> {
        let mut files: Vec<(KeyPath, Utf8PathBuf)> =
            self.templates.iter().map(|template| (template.key_path.clone(), template.src.clone())).collect();
        for (key, page) in [
            ("upgrade_message", &self.static_html.upgrade_message),
            ("healthcheck_override", &self.static_html.healthcheck_override),
        ] {
            if let Some(page) = page {
                files.push((KeyPath::root().key("static_html").key(key), page.clone()));
            }
        }
        files
    }

    /// The local secrets file for an environment (relative to the config file's directory).
    pub fn secrets_file(&self, environment: &str) -> String {
        self.secrets.file_pattern.replace("{environment}", environment)
    }
}

pub(crate) fn join_names<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.into_iter().map(|name| format!("`{name}`")).collect();
    if names.is_empty() { "(none)".to_owned() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;

    const CONFIG: &str = r"
project: demo
repo: /r.git
vars: {a: top, b: top, c: top, d: top}
roles:
  web:
    vars: {b: role, c: role, d: role}
environments:
  staging:
    branch: main
    vars: {c: environment, d: environment}
    roles:
      web:
        hosts: [web1]
        vars: {d: entry}
";

    #[test]
    fn the_most_specific_variable_wins() {
        let config = crate::parse_config(Utf8Path::new("t.yml"), CONFIG, &[]).unwrap();
        let staging = &config.environments["staging"];
        let shown = |vars: super::Vars| -> Vec<String> {
            vars.iter().map(|(name, value)| format!("{name}={}", value.as_str().unwrap())).collect()
        };
        assert_eq!(shown(config.vars_for(staging, Some("web"))), ["a=top", "b=role", "c=environment", "d=entry"]);
        assert_eq!(shown(config.vars_for(staging, None)), ["a=top", "b=top", "c=environment", "d=environment"]);
    }
}
