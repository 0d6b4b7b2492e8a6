//! Secrets on a real fleet: files that hold them are private by default, host
//! output that shows them is masked everywhere deployer writes it, logs are
//! private, and a value that cannot travel byte-exact is refused by name.

use std::os::unix::fs::PermissionsExt;

use crate::support::project::{project_with, run_and_check, walk};
use crate::support::{deployer, run};

const CANARY: &str = "canary-93b1-d04e-masked";

fn roles() -> String {
    // The restart prints the rendered file, secret and all, as a careless
    // command would.
    "  web:\n    restart: \"cat app.env\"\n    healthcheck: test -f app.env\n".to_owned()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn secret_files_are_private_and_secrets_in_output_are_masked() {
    let extra = "password_names: [api_key]\ntemplates:\n  - {src: env.j2, dest: app.env}\n";
    let Some(project) = project_with(2, &roles(), extra) else { return };
    std::fs::write(project.path().join("env.j2"), "API_KEY={{ secrets.api_key }}\n").unwrap();
    std::fs::write(project.path().join("fabsecrets_testing.py"), format!("api_key = \"{CANARY}\"\n")).unwrap();

    let outcome = run_and_check(&project, &["--json", "deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(!outcome.stdout.contains(CANARY) && !outcome.stderr.contains(CANARY), "the secret was printed");
    assert!(outcome.stdout.contains("API_KEY=[secret:api_key]"), "the line is shown, masked:\n{}", outcome.stdout);
    for host in 0..2 {
        let release = project.current(host).unwrap();
        let file = project.host_file(host, &format!("testing/releases/{release}/app.env"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("API_KEY={CANARY}\n"));
        assert_eq!(mode(&file), 0o600, "host {host}: a template holding a secret is 0600 without a mode");
    }
    let logs = project.path().join(".deployer/logs");
    let files = walk(&logs);
    assert!(!files.is_empty());
    for file in files {
        assert!(!std::fs::read_to_string(&file).unwrap().contains(CANARY), "{} holds the secret", file.display());
        assert_eq!(mode(&file), 0o600, "{} is readable by others", file.display());
        assert_eq!(mode(file.parent().unwrap()), 0o700, "{} is open to others", file.parent().unwrap().display());
    }
}

#[test]
fn a_secret_that_cannot_travel_unchanged_is_refused_by_name_before_any_host() {
    let extra = "password_names: [api_key]\n";
    let Some(project) = project_with(1, &roles(), extra) else { return };
    std::fs::write(project.path().join("fabsecrets_testing.py"), "api_key = \"a\0b\"\n").unwrap();
    let outcome = run_and_check(&project, &["update_server_passwords", "testing"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("secret `api_key`") && outcome.stderr.contains("NUL"), "{}", outcome.stderr);
    assert!(!project.host_file(0, "testing/secrets/api_key").exists(), "nothing reached the host");
}

#[test]
fn check_warns_about_a_readable_file_holding_a_secret() {
    let directory = tempfile::tempdir().unwrap();
    let config = "project: demo\nrepo: /nonexistent.git\ndeploy_root: /srv/demo\nvalid_roles: [web]\nroles:\n  web: {}\n\
                  password_names: [api_key]\n\
                  templates:\n  - {src: env.j2, dest: .env, mode: \"0644\"}\n  - {src: plain.j2, dest: plain, mode: \"0644\"}\n\
                  environments:\n  testing:\n    branch: main\n    roles:\n      web: [web1.invalid]\n";
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    std::fs::write(directory.path().join("env.j2"), "KEY={{ secrets.api_key }}\n").unwrap();
    std::fs::write(directory.path().join("plain.j2"), "nothing secret\n").unwrap();
    let outcome = run(deployer(directory.path()).args(["check"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("warning: template `env.j2` uses a secret but its mode 0644"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("`plain.j2`"), "{}", outcome.stderr);
}
