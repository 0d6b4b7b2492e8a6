//! `deployer hosts`: resolved hosts in execution order, text and JSON, with the
//! command-line flags and dynamic roles.

use std::path::Path;

use crate::support::{deployer, root, run};

fn example(args: &[&str]) -> crate::support::Outcome {
    let mut command = deployer(&root());
    command.args(["-c", "fabulaws-config.yml.example"]).args(args);
    run(&mut command)
}

#[test]
fn lists_every_role_in_order() {
    let outcome = example(&["hosts", "staging"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    insta::assert_snapshot!(outcome.stdout);
}

#[test]
fn json_has_host_user_port_and_roles() {
    let outcome = example(&["hosts", "myproject", "production", "-R", "db-replica,worker", "--json"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let hosts: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    insta::assert_json_snapshot!(hosts);
}

#[test]
fn flags_override_merge_dedupe_and_exclude() {
    let outcome = example(&[
        "hosts",
        "staging",
        "-H",
        "web2.staging.example.com,ops@adhoc.example.com:2200",
        "-R",
        "web,cache",
        "-x",
        "web1.staging.example.com",
        "-u",
        "alice",
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout,
        "alice@web2.staging.example.com    web\n\
         ops@adhoc.example.com:2200        -\n\
         alice@cache1.staging.example.com  cache\n"
    );
}

#[test]
fn no_dedupe_keeps_repeats() {
    let outcome = example(&["hosts", "staging", "-H", "a.example.com,a.example.com", "--no-dedupe", "--json"]);
    let hosts: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(hosts.as_array().unwrap().len(), 2);
    let outcome = example(&["hosts", "staging", "-H", "a.example.com,a.example.com", "--json"]);
    let hosts: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(hosts.as_array().unwrap().len(), 1);
}

#[test]
fn bad_flags_are_refused_before_anything_runs() {
    let outcome = example(&["hosts", "staging", "--hosts=-oProxyCommand=touch /tmp/pwned"]);
    assert_eq!(outcome.code, 2);
    assert!(outcome.stderr.starts_with("error: `-H`: invalid host string"), "{}", outcome.stderr);
    let outcome = example(&["hosts", "staging", "-R", "wbe"]);
    assert_eq!(outcome.code, 2);
    assert_eq!(outcome.stderr, "error: unknown role `wbe` in `-R`\n  help: did you mean `web`?\n");
    let outcome = example(&["hosts", "otherproject", "staging"]);
    assert_eq!(outcome.code, 2);
    assert!(outcome.stderr.contains("unknown deployment `otherproject`"), "{}", outcome.stderr);
}

fn write_dynamic_config(directory: &Path) {
    let config = r#"
project: demo
repo: /srv/git/demo.git
valid_roles: [web, worker]
environments:
  staging:
    branch: main
    roles:
      web:
        command: "touch ran-$DEPLOYER_ROLE; printf 'web1\nweb2 web3\n'"
      worker: [worker1]
"#;
    std::fs::write(directory.join("fabulaws-config.yml"), config).unwrap();
}

#[test]
fn a_role_command_runs_only_when_the_role_is_needed() {
    let directory = tempfile::tempdir().unwrap();
    write_dynamic_config(directory.path());
    let marker = directory.path().join("ran-web");

    let outcome = run(deployer(directory.path()).arg("check"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(!marker.exists(), "check must not run host commands");

    let outcome = run(deployer(directory.path()).args(["hosts", "staging", "-R", "worker"]));
    assert_eq!(outcome.stdout, "worker1  worker\n");
    assert!(!marker.exists(), "the web role was not targeted");

    let outcome = run(deployer(directory.path()).args(["hosts", "staging"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "web1     web\nweb2     web\nweb3     web\nworker1  worker\n");
    assert!(marker.exists());
}

#[test]
fn a_failing_role_command_names_the_role() {
    let directory = tempfile::tempdir().unwrap();
    let config = "project: demo\nrepo: /r.git\nvalid_roles: [web]\nenvironments:\n  staging:\n    branch: main\n    roles:\n      web:\n        command: echo nope >&2; exit 3\n";
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    let outcome = run(deployer(directory.path()).args(["hosts", "staging"]));
    assert_eq!(outcome.code, 2);
    assert!(
        outcome
            .stderr
            .contains("role `web` of environment `staging`: host command failed: it exited with exit status: 3: nope"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn completions_and_man_pages_come_from_the_same_definition() {
    let outcome =
        run(deployer(&root()).env("COMPLETE", "bash").env("_CLAP_COMPLETE_INDEX", "1").args(["--", "deployer", ""]));
    assert_eq!(outcome.code, 0);
    for command in ["deploy_full", "create_environment", "update_server_passwords", "--exclude-hosts"] {
        assert!(outcome.stdout.contains(command), "bash completion lacks {command}");
    }
    // The dashed spellings parse but are not offered twice.
    assert!(!outcome.stdout.contains("deploy-full"), "{}", outcome.stdout);
    let directory = tempfile::tempdir().unwrap();
    let outcome = run(deployer(&root()).args(["man", directory.path().to_str().unwrap()]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let page = std::fs::read_to_string(directory.path().join("deployer.1")).unwrap();
    assert!(page.contains("deploy_full"), "the man page lists the commands");
    assert!(directory.path().join("deployer-deploy_full.1").exists());
    // Without a directory: the page on standard output, and no file written here.
    let here = tempfile::tempdir().unwrap();
    let outcome = run(deployer(here.path()).arg("man"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("deploy_full"), "{}", outcome.stdout);
    assert_eq!(std::fs::read_dir(here.path()).unwrap().count(), 0, "man wrote files into the current directory");
}

#[test]
fn help_lists_fabulaws_command_names() {
    let outcome = run(deployer(&root()).arg("--help"));
    assert_eq!(outcome.code, 0);
    insta::assert_snapshot!(outcome.stdout);
}

#[cfg(not(feature = "aws"))]
#[test]
fn without_the_aws_feature_tag_discovery_says_so_before_anything_runs() {
    let directory = tempfile::tempdir().unwrap();
    let config = "project: demo\nrepo: /srv/git/demo.git\nvalid_roles: [web]\nbranches: {testing: main}\n\
                  environments: [testing]\naws: {discover: tags}\n";
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    let outcome = run(deployer(directory.path()).args(["hosts", "testing"]));
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("built without AWS support (the `aws` cargo feature)"), "{}", outcome.stderr);
}
