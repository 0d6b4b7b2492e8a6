//! Shell completion completes the configuration's own names: environments (and
//! deployments) where a command takes a target, roles after `-R`.

use crate::support::{deployer, root, run};

/// What bash would be offered for the word at `index` of `words`, run in the
/// Django example's directory.
fn offered(words: &[&str], index: usize) -> Vec<String> {
    let outcome = run(deployer(&root().join("examples/django"))
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", index.to_string())
        .arg("--")
        .args(words));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    // Flags are offered too where a flag may come; the names are what this is about.
    outcome
        .stdout
        .split(['\n', '\u{b}'])
        .filter(|word| !word.is_empty() && !word.starts_with('-'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn environments_deployments_and_roles_come_from_the_configuration() {
    assert_eq!(offered(&["deployer", "deploy_full", ""], 2), ["testing", "production", "myproject"]);
    assert_eq!(offered(&["deployer", "deploy_serial", "pro"], 2), ["production"]);
    assert_eq!(offered(&["deployer", "check", "t"], 2), ["testing"]);
    assert_eq!(offered(&["deployer", "hosts", "testing", "-R", "web,w"], 4), ["web,web", "web,worker"]);
    assert_eq!(offered(&["deployer", "status", "testing", "-R", "d"], 4), ["db-primary"]);
}

#[test]
fn without_a_configuration_nothing_is_offered_and_nothing_is_printed() {
    let directory = tempfile::tempdir().unwrap();
    let outcome = run(deployer(directory.path()).env("COMPLETE", "bash").env("_CLAP_COMPLETE_INDEX", "2").args([
        "--",
        "deployer",
        "deploy_full",
        "",
    ]));
    assert_eq!(outcome.code, 0);
    let names: Vec<&str> = outcome.stdout.lines().filter(|word| !word.starts_with('-')).collect();
    assert!(names.is_empty() && outcome.stderr.is_empty(), "{}{}", outcome.stdout, outcome.stderr);
}

#[test]
fn the_completions_command_prints_a_script_that_asks_deployer() {
    for shell in ["bash", "zsh", "fish"] {
        let outcome = run(deployer(&root()).args(["completions", shell]));
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        assert!(outcome.stdout.contains("COMPLETE="), "{shell}: {}", outcome.stdout);
    }
    let commands = offered(&["deployer", "dep"], 1);
    for command in ["deploy_full", "deploy_serial"] {
        assert!(commands.iter().any(|offered| offered == command), "{command} is not offered: {commands:?}");
    }
}
