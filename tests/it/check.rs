//! `deployer check`: the example passes, every class of mistake fails with a message
//! naming file:line:column and the key path (snapshotted), FabulAWS files load.

use crate::support::{deployer, fixtures, root, run};

#[test]
fn the_example_is_valid() {
    let outcome = run(deployer(&root()).args(["-c", "fabulaws-config.yml.example", "check"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    insta::assert_snapshot!(outcome.stdout);
    assert_eq!(outcome.stderr, "");
}

#[test]
fn check_one_environment_and_json() {
    let outcome = run(deployer(&root()).args(["-c", "fabulaws-config.yml.example", "check", "staging", "--json"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let summary: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(summary["valid"], true);
    let environments = summary["environments"].as_array().unwrap();
    assert_eq!(environments.len(), 1);
    assert_eq!(environments[0]["name"], "staging");
    assert_eq!(environments[0]["branch"], "main");
    assert_eq!(environments[0]["roles"]["web"]["hosts"], 2);
}

#[test]
fn check_of_an_unknown_environment_fails_with_a_suggestion() {
    let outcome = run(deployer(&root()).args(["-c", "fabulaws-config.yml.example", "check", "stagin"]));
    assert_eq!(outcome.code, 1);
    assert_eq!(outcome.stderr, "error: unknown environment `stagin`\n  help: did you mean `staging`?\n");
}

#[test]
fn the_config_is_found_in_a_parent_directory() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join("fabulaws-legacy.yml"), directory.path().join("fabulaws-config.yml")).unwrap();
    let nested = directory.path().join("a").join("b");
    std::fs::create_dir_all(&nested).unwrap();
    let outcome = run(deployer(&nested).arg("check"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn a_missing_config_says_where_it_looked() {
    let directory = tempfile::tempdir().unwrap();
    let outcome = run(deployer(directory.path()).arg("check"));
    assert_eq!(outcome.code, 1);
    assert!(outcome.stderr.contains("no `fabulaws-config.yml` in"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("help: create one from `fabulaws-config.yml.example`"), "{}", outcome.stderr);
}

#[test]
fn a_fabulaws_file_is_accepted_and_its_keys_reported() {
    let outcome = run(deployer(&fixtures()).args(["-c", "fabulaws-legacy.yml", "check"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    insta::assert_snapshot!("fabulaws_legacy_stdout", outcome.stdout);
    insta::assert_snapshot!("fabulaws_legacy_stderr", outcome.stderr);
}

/// Runs `check` on `tests/fixtures/invalid/<name>.yml` and snapshots what it says.
fn invalid(name: &str) -> String {
    let outcome = run(deployer(&fixtures().join("invalid")).args(["-c", &format!("{name}.yml"), "check"]));
    assert_eq!(outcome.code, 1, "{name} should be refused:\n{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(outcome.stdout, "", "nothing on stdout for an invalid file");
    assert!(outcome.stderr.contains(&format!("[{name}.yml:")), "no file:line:column in\n{}", outcome.stderr);
    outcome.stderr
}

#[test]
fn bad_yaml_syntax() {
    insta::assert_snapshot!(invalid("syntax"));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(invalid("wrong-type"));
}

#[test]
fn unknown_keys() {
    insta::assert_snapshot!(invalid("unknown-key"));
}

#[test]
fn unknown_role_in_a_host_map() {
    insta::assert_snapshot!(invalid("unknown-role"));
}

#[test]
fn unknown_environment_in_a_branch_map() {
    insta::assert_snapshot!(invalid("unknown-environment"));
}

#[test]
fn duplicate_host() {
    insta::assert_snapshot!(invalid("duplicate-host"));
}

#[test]
fn environment_without_a_branch() {
    insta::assert_snapshot!(invalid("missing-branch"));
}

#[test]
fn invalid_host_strings() {
    insta::assert_snapshot!(invalid("invalid-host"));
}

#[test]
fn dangerous_branch_names() {
    insta::assert_snapshot!(invalid("dangerous-branch"));
}

#[test]
fn duplicate_key() {
    insta::assert_snapshot!(invalid("duplicate-key"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let stderr = invalid("many-problems");
    assert!(stderr.contains("has 7 problems"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn a_bad_override_names_the_flag() {
    let outcome = run(deployer(&root()).args([
        "-c",
        "fabulaws-config.yml.example",
        "--set",
        "keep_releases=lots",
        "--set",
        "environments.staging.branch=-x",
        "check",
    ]));
    assert_eq!(outcome.code, 1);
    insta::assert_snapshot!(outcome.stderr);
}

#[test]
fn a_good_override_is_applied() {
    let outcome = run(deployer(&root()).args([
        "-c",
        "fabulaws-config.yml.example",
        "--set",
        "environments.staging.branch=hotfix/login",
        "check",
        "staging",
        "--json",
    ]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let summary: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(summary["environments"][0]["branch"], "hotfix/login");
}
