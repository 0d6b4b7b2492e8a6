//! `deployer-config`: everything between the text of `fabulaws-config.yml` and the
//! list of hosts a command will run on.
//!
//! Flow: [`load_config`] reads the file → [`parse_config`] deserializes each section
//! (`raw.rs`) and validates it into a [`Config`] (`validate.rs`, `environments.rs`),
//! reporting every problem with its file, line, column and key path
//! ([`ConfigErrors`]) → [`select_hosts`] applies Fabric's host-list rules for one
//! environment and the `-H/-R/-x/-u` flags.
//!
//! I/O happens only in `loader.rs` (reading the file) and `discover.rs` (running
//! role host commands); everything else is pure and deterministic.

mod discover;
mod ec2;
mod environments;
mod error;
mod host_string;
mod key_path;
mod keys;
mod limits;
mod loader;
mod locate;
mod model;
mod names;
mod overrides;
mod problems;
mod raw;
mod rollout;
mod select;
mod validate;

pub use discover::ShellDiscovery;
pub use ec2::{AwsTimeouts, ByEnvironmentRole, Ec2Settings, EnvironmentOrRole};
pub use error::{ConfigError, ConfigErrors, Origin, did_you_mean};
pub use host_string::{HostString, HostStringError};
pub use key_path::{KeyPath, Segment};
pub use loader::{DEFAULT_FILE_NAME, LoadError, find_config, load_config};
pub use model::{
    AutoScalingGroups, AwsSettings, ByDeployment, Config, Connection, Environment, ExecutionSettings, FetchStrategy,
    GroupReplacement, HealthCheck, Hook, HookPoint, HookStep, KeyExchange, KeyReport, KnownHosts, Migrate, Notify,
    PushCompression, Role, RoleHosts, SecretsSpec, SshAddress, SshSettings, StaticHtml, TargetGroups, TemplateSpec,
    Vars, Warning, WebhookTarget,
};
pub use names::{check_absolute_path, check_branch, check_name, check_relative_path, check_user};
pub use overrides::Override;
pub use rollout::{Rollout, WaveSize};
pub use select::{
    DiscoveryRequest, LaunchSlot, NoDiscovery, RoleDiscovery, Selection, SelectionError, TagRequest, TargetHost,
    builder_host, group_slots, select_hosts,
};
pub use validate::parse_config;
