//! Shared inputs for the plan tests: the example configuration, its templates and a
//! fixed invocation, so plans are deterministic.
#![allow(dead_code)]

use camino::{Utf8Path, Utf8PathBuf};
use deployer_config::{Config, NoDiscovery, Selection, TargetHost, load_config, select_hosts};
use deployer_plan::{CommandSpec, Invocation, Plan, PlanError, PlanInput, Revision, Sources, compile};

pub const COMMIT: &str = "3f786850e387550fdab836ed7e6dc881de23001b";

pub fn repository_root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example() -> Config {
    load_config(&repository_root().join("fabulaws-config.yml.example"), &[]).expect("the example is valid")
}

/// Every local file the configuration names, as the binary would load them.
pub fn sources(config: &Config) -> Sources {
    let base = config.file.parent().unwrap_or(Utf8Path::new(".")).to_owned();
    let mut sources = Sources::new();
    for (_, path) in config.local_files() {
        let text = std::fs::read_to_string(base.join(&path)).expect("the source exists");
        sources.insert(path, text);
    }
    sources
}

pub fn invocation() -> Invocation {
    Invocation {
        deploy_id: "20261123T010203Z-4242".to_owned(),
        local_user: "alice".to_owned(),
        controller: "laptop".to_owned(),
        pid: 4242,
        stamp: "20261123T010203Z".to_owned(),
        started_at: "2026-11-23T01:02:03Z".to_owned(),
    }
}

pub fn hosts(config: &Config, environment: &str) -> Vec<TargetHost> {
    select_hosts(config, environment, &Selection { dedupe: true, ..Selection::default() }, &mut NoDiscovery).unwrap()
}

pub fn plan(config: &Config, environment: &str, command: CommandSpec) -> Result<Plan, PlanError> {
    let hosts = hosts(config, environment);
    let sources = sources(config);
    compile(&PlanInput {
        config,
        deployment: "myproject",
        environment,
        command,
        hosts: &hosts,
        revision: Some(Revision { branch: Some("main".to_owned()), commit: COMMIT.to_owned() }),
        invocation: invocation(),
        sources: &sources,
        shipping: None,
        group: None,
    })
}
