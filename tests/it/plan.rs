//! `deployer plan`: compiles a command against a real git repository without
//! connecting to any host; secrets never appear.

use crate::support::{deployer, git, run};

const CANARY: &str = "canary-7d1f0b-never-print-me";

/// A project directory with a git repository, a configuration, a template using a
/// secret, and a secrets file holding a canary value.
fn project() -> (tempfile::TempDir, String) {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    let source = root.join("source");
    std::fs::create_dir_all(&source).unwrap();
    git(&source, &["init", "-q"]);
    std::fs::write(source.join("app.txt"), "v1").unwrap();
    git(&source, &["add", "."]);
    git(&source, &["commit", "-q", "-m", "v1"]);
    let commit = git(&source, &["rev-parse", "HEAD"]);
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("templates/env.j2"), "KEY={{ secrets.api_key }}\n").unwrap();
    std::fs::write(root.join("fabsecrets_testing.py"), format!("api_key = \"{CANARY}\"\n")).unwrap();
    let config = format!(
        "project: demo\nrepo: {source}\ndeploy_root: /srv/demo\nvalid_roles: [web]\nroles:\n  web:\n    restart: echo restarted\npassword_names: [api_key]\ntemplates:\n  - {{src: templates/env.j2, dest: .env, mode: \"0600\"}}\nenvironments:\n  testing:\n    branch: main\n    roles:\n      web: [web1.invalid, web2.invalid]\n",
        source = source.display()
    );
    std::fs::write(root.join("fabulaws-config.yml"), config).unwrap();
    (directory, commit)
}

#[test]
fn plans_a_deploy_of_the_branch_head() {
    let (directory, commit) = project();
    let outcome = run(deployer(directory.path()).args(["plan", "deploy_full", "testing"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains(&format!("commit: {commit} (branch main)")), "{}", outcome.stdout);
    assert!(outcome.stdout.contains(&format!("-{}\n", &commit[..7])), "the release id ends with the short commit");
    // Three round trips: the phases that need no barrier between them run in one script.
    for phase in ["lock+prepare", "switch+restart", "finish"] {
        assert!(outcome.stdout.contains(&format!(": {phase}: ")), "phase {phase} missing:\n{}", outcome.stdout);
    }
    assert!(outcome.stdout.contains("phase 3/3: finish"), "{}", outcome.stdout);
    assert!(outcome.stdout.contains("content='KEY='[secret:api_key]"), "{}", outcome.stdout);
    assert!(!outcome.stdout.contains(CANARY) && !outcome.stderr.contains(CANARY));
}

#[test]
fn json_plans_carry_the_same_phases() {
    let (directory, commit) = project();
    let outcome =
        run(deployer(directory.path()).args(["--json", "plan", "deploy_serial", "testing", "--batch-size", "1"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(!outcome.stdout.contains(CANARY));
    let plan: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(plan["revision"]["commit"], commit);
    let phases: Vec<&str> =
        plan["phases"].as_array().unwrap().iter().map(|phase| phase["name"].as_str().unwrap()).collect();
    assert_eq!(phases, ["lock+prepare", "rollout", "finish"]);
    assert_eq!(plan["phases"][0]["leads"], true, "the first host takes the lock first");
    assert_eq!(plan["phases"][1]["concurrency"], serde_json::json!({"kind": "batches", "size": 1}));
}

#[test]
fn a_commit_can_be_pinned_and_flags_after_the_command_count() {
    let (directory, commit) = project();
    let outcome = run(deployer(directory.path()).args([
        "plan",
        "deploy_full",
        "testing",
        "--commit",
        &commit,
        "-H",
        "web2.invalid",
    ]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("hosts (1):\n  web2.invalid  web\n"), "{}", outcome.stdout);
    assert!(outcome.stdout.contains(&format!("commit: {commit}\n")));
}

#[test]
fn bad_requests_fail_before_anything_runs() {
    let (directory, _) = project();
    let cases: [(&[&str], &str); 5] = [
        (&["plan", "deploy_full", "testing", "--branch", "nope"], "branch `nope` is not in"),
        (&["plan", "deploy_full", "testing", "--branch=--upload-pack=touch /tmp/x"], "starts with `-`"),
        (&["plan", "rollback", "testing", "--to", "$(touch /tmp/x)"], "invalid release id"),
        (&["plan", "deploy_full", "testing", "--commit", "0000000"], "is not a commit"),
        (&["plan", "hosts", "testing"], "`hosts` does not compile to a plan"),
    ];
    for (args, expected) in cases {
        let outcome = run(deployer(directory.path()).args(args));
        assert_eq!(outcome.code, 2, "{args:?}: {}", outcome.stderr);
        assert!(outcome.stderr.contains(expected), "{args:?}: {}", outcome.stderr);
    }
}

#[test]
fn flags_before_plan_and_after_the_command_both_count() {
    let (directory, _) = project();
    let outcome = run(deployer(directory.path()).args([
        "-H",
        "web2.invalid",
        "plan",
        "deploy_serial",
        "testing",
        "--batch-size",
        "1",
        "--json",
    ]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let plan: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(plan["hosts"].as_array().unwrap().len(), 1, "-H before `plan` selects the host");
    let outcome = run(deployer(directory.path()).args(["plan", "deploy_full", "testing", "--pool-size", "0"]));
    assert_eq!(outcome.code, 2, "the command's own validation applies: {}", outcome.stderr);
}

#[test]
fn a_bare_config_file_name_works_for_commands_that_run_git() {
    let (directory, commit) = project();
    let outcome = run(deployer(directory.path()).args(["-c", "fabulaws-config.yml", "plan", "deploy_full", "testing"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains(&commit));
    let outcome = run(deployer(directory.path()).env("DEPLOYER_CONFIG", "fabulaws-config.yml").args([
        "plan",
        "deploy_full",
        "testing",
    ]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn fabulaws_config_yaml_is_found_too() {
    let (directory, _) = project();
    std::fs::rename(directory.path().join("fabulaws-config.yml"), directory.path().join("fabulaws-config.yaml"))
        .unwrap();
    let outcome = run(deployer(directory.path()).args(["plan", "status", "testing"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn an_unreachable_repository_is_not_a_missing_branch() {
    let (directory, _) = project();
    let config = std::fs::read_to_string(directory.path().join("fabulaws-config.yml")).unwrap();
    let config =
        config.replace(&format!("repo: {}", directory.path().join("source").display()), "repo: /nonexistent/repo.git");
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    let outcome = run(deployer(directory.path()).args(["plan", "deploy_full", "testing"]));
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("cannot reach the repository /nonexistent/repo.git"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("does not appear to be a git repository"), "git's own words: {}", outcome.stderr);
    assert!(!outcome.stderr.contains("branch"), "{}", outcome.stderr);
}

#[test]
fn every_undefined_template_name_is_reported_in_one_run() {
    let (directory, _) = project();
    let root = directory.path();
    std::fs::write(root.join("templates/env.j2"), "KEY={{ secrets.api_key }}\nHOST={{ hots }}\n").unwrap();
    std::fs::write(root.join("templates/nginx.j2"), "listen {{ port_number }};\nroot {{ relase_dir }};\n").unwrap();
    let config = std::fs::read_to_string(root.join("fabulaws-config.yml")).unwrap();
    let config = config.replace("environments:", "  - {src: templates/nginx.j2, dest: nginx.conf}\nenvironments:");
    std::fs::write(root.join("fabulaws-config.yml"), config).unwrap();
    let outcome = run(deployer(root).args(["plan", "deploy_full", "testing"]));
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    for expected in [
        "3 problems in the templates",
        "template `templates/env.j2` line 2: undefined variable `hots` (did you mean `host`?)",
        "template `templates/nginx.j2` line 1: undefined variable `port_number`",
        "template `templates/nginx.j2` line 2: undefined variable `relase_dir` (did you mean `release_dir`?)",
    ] {
        assert!(outcome.stderr.contains(expected), "missing {expected:?} in:\n{}", outcome.stderr);
    }
}

#[test]
fn fabulaws_templates_see_secrets_and_servers_under_fabulaws_names() {
    let (directory, _) = project();
    let root = directory.path();
    std::fs::write(
        root.join("templates/env.j2"),
        "PASSWORD={{ api_key }}\nCACHE={{ cache_server }}\nDB={{ master_database }}\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(root.join("fabulaws-config.yml")).unwrap();
    let config = config.replace("valid_roles: [web]", "valid_roles: [web, cache, db-primary]").replace(
        "      web: [web1.invalid, web2.invalid]\n",
        "      web: [web1.invalid, web2.invalid]\n      cache: [cache1.invalid]\n      db-primary: [db1.invalid]\n",
    );
    std::fs::write(root.join("fabulaws-config.yml"), config).unwrap();
    let outcome = run(deployer(root).args(["plan", "deploy_full", "testing", "-R", "web"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("PASSWORD='[secret:api_key]'"), "{}", outcome.stdout);
    assert!(
        outcome.stdout.contains("CACHE=cache1.invalid") && outcome.stdout.contains("DB=db1.invalid"),
        "{}",
        outcome.stdout
    );
    assert!(!outcome.stdout.contains(CANARY));
}
