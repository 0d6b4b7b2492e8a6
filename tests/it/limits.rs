//! Hostile and unlucky configuration files: every one is refused (or loaded)
//! quickly, with the key named, before any host is touched.

use crate::support::{deployer, run};

const BASE: &str = "project: demo\nrepo: /nonexistent.git\ndeploy_root: /srv/demo\nvalid_roles: [web]\n\
                    environments:\n  testing:\n    branch: main\n    roles:\n      web: [web1.invalid]\n";

fn check(config: &str, files: &[(&str, &str)]) -> crate::support::Outcome {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    for (name, text) in files {
        std::fs::write(directory.path().join(name), text).unwrap();
    }
    run(deployer(directory.path()).arg("check"))
}

#[test]
fn numbers_that_would_overflow_derived_limits_are_refused_by_key() {
    let config = format!(
        "{BASE}roles:\n  web:\n    healthcheck:\n      command: 'true'\n      retries: 4294967295\n      timeout: 4294967295\n\
         execution:\n  command_timeout: 0\n"
    );
    let outcome = check(&config, &[]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    for key in ["roles.web.healthcheck.retries", "roles.web.healthcheck.timeout", "execution.command_timeout"] {
        assert!(outcome.stderr.contains(key), "{key} is not named:\n{}", outcome.stderr);
    }
    assert!(outcome.stderr.contains("must be from 0 to 1000"), "{}", outcome.stderr);
}

#[test]
fn deep_nesting_and_huge_files_are_refused_within_a_second() {
    for config in [format!("{BASE}vars: {}{}\n", "[".repeat(50_000), "]".repeat(50_000)), "#".repeat(4 << 20)] {
        let started = std::time::Instant::now();
        let outcome = check(&config, &[]);
        assert_eq!(outcome.code, 1, "{}", &outcome.stderr[..outcome.stderr.len().min(500)]);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
        assert!(outcome.stderr.contains("nest") || outcome.stderr.contains("larger than"), "{}", outcome.stderr);
    }
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let outcome = check(&format!("\u{feff}{BASE}roles:\n  web: {{}}\n"), &[]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn a_template_must_stay_inside_the_project() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_ed25519"), "PRIVATE KEY").unwrap();
    let directory = tempfile::tempdir().unwrap();
    let config = format!(
        "{BASE}roles:\n  web: {{}}\ntemplates:\n  - {{src: key.j2, dest: key}}\n  - {{src: ../{}/id_ed25519, dest: key2}}\n",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    std::os::unix::fs::symlink(outside.path().join("id_ed25519"), directory.path().join("key.j2")).unwrap();
    let outcome = run(deployer(directory.path()).arg("check"));
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(outcome.stderr.matches("resolves to").count(), 2, "{}", outcome.stderr);
}

#[test]
fn ssh_paths_that_the_ssh_config_cannot_hold_are_refused() {
    let config = format!("{BASE}roles:\n  web: {{}}\nssh:\n  identity_file: 'keys/a\"b'\n");
    let outcome = check(&config, &[]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("ssh.identity_file"), "{}", outcome.stderr);
}

#[test]
fn plan_refuses_a_bad_gateway_like_the_real_command() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("fabulaws-config.yml"), format!("{BASE}roles:\n  web: {{}}\n")).unwrap();
    let outcome = run(deployer(directory.path()).args(["plan", "status", "testing", "--gateway=-oProxyCommand=x"]));
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("--gateway"), "{}", outcome.stderr);
}

/// `deployer ARGS` under `limits` (shell `ulimit` arguments), in a project whose
/// ten hosts are closed ports on loopback (nothing answers; no traffic leaves).
fn under_limits(limits: &str, args: &[&str]) -> crate::support::Outcome {
    let directory = tempfile::tempdir().unwrap();
    let hosts: Vec<String> = (1..=10).map(|host| format!("\"127.0.9.{host}:1\"")).collect();
    let config = format!(
        "project: demo\nrepo: /nonexistent.git\ndeploy_root: /srv/demo\nvalid_roles: [web]\n\
         ssh: {{connect_timeout: 2}}\nexecution: {{pool_size: 10}}\n\
         environments:\n  testing:\n    branch: main\n    roles:\n      web: [{}]\n",
        hosts.join(", ")
    );
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    let binary = assert_cmd::cargo::cargo_bin("deployer");
    let mut command = assert_cmd::Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit {limits} && exec \"$0\" \"$@\""))
        .arg(binary)
        .args(args)
        .current_dir(directory.path())
        .env("NO_COLOR", "1")
        .env("HOME", directory.path())
        .env_remove("DEPLOYER_CONFIG");
    run(&mut command)
}

#[test]
fn too_few_open_files_for_the_fleet_are_refused_before_connecting_and_a_low_soft_limit_is_raised() {
    // 10 hosts, 10 at work: 64 + 100 + 40 = 204 descriptors at most.
    let refused = under_limits("-n 40", &["run", "testing", "--", "true"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("a run on 10 hosts needs up to 204 open files, but this shell allows 40 (hard limit 40)")
            && refused.stderr.contains("`ulimit -n 204`"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("unreachable"), "no host was contacted: {}", refused.stderr);

    // Only the soft limit low: raised, and the run goes on to the hosts.
    let raised = under_limits("-S -n 40", &["run", "testing", "--", "true"]);
    assert!(!raised.stderr.contains("needs up to"), "{}", raised.stderr);
    assert!(raised.stderr.contains("unreachable") || raised.stderr.contains("refused"), "{}", raised.stderr);
}
