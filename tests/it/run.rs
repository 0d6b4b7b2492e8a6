//! `deployer run ENV -- CMD`: each host's output on standard output, prefixed by
//! the host as Fabric shows it, streamed or grouped, and a failing host named.

use crate::support::project::{project, run_and_check};

#[test]
fn output_is_prefixed_by_host_streamed_or_grouped_and_failures_are_named() {
    let Some(project) = project(3, "") else { return };
    let names: Vec<String> = project.fleet.hosts.iter().map(|host| host.host_string(&project.fleet.user)).collect();
    let outcome = run_and_check(&project, &["run", "testing", "--", "echo first; echo second >&2; echo third"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    for name in &names {
        for (stream, line) in [("out", "first"), ("err", "second"), ("out", "third")] {
            let expected = format!("[{name}] {stream}: {line}\n");
            assert!(outcome.stdout.contains(&expected), "missing {expected:?} in\n{}", outcome.stdout);
        }
    }

    let outcome = run_and_check(&project, &["run", "testing", "--grouped", "--", "echo a; echo b"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    for name in &names {
        let together = format!("[{name}] out: a\n[{name}] out: b\n");
        assert!(outcome.stdout.contains(&together), "{name}'s lines are not together:\n{}", outcome.stdout);
    }

    std::fs::write(project.host_file(1, "fail"), "").unwrap();
    let outcome =
        run_and_check(&project, &["--warn-only", "run", "testing", "--", "test ! -e /srv/deployer-fleet/fail"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(&format!("error: [{}]", names[1])),
        "the failed host is named:\n{}",
        outcome.stderr
    );
}

/// 25 hosts on this machine (`connection: local`): enough to condense.
fn many_local_hosts() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let hosts: Vec<String> = (1..=25).map(|number| format!("h{number}")).collect();
    let config = format!(
        "project: demo\nrepo: /nonexistent.git\ndeploy_root: {root}/deploy\nvalid_roles: [web]\nroles:\n  web: {{}}\n\
         environments:\n  testing:\n    branch: main\n    connection: local\n    roles:\n      web: [{hosts}]\n",
        root = directory.path().display(),
        hosts = hosts.join(", ")
    );
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    directory
}

#[test]
fn many_hosts_in_a_pipe_get_a_line_per_phase_unless_verbose() {
    let directory = many_local_hosts();
    let outcome =
        crate::support::run(crate::support::deployer(directory.path()).args(["run", "testing", "--", "true"]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("run: 25 ok, 0 failed"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("[h7] run the command: ok"), "{}", outcome.stderr);
    let verbose = crate::support::run(crate::support::deployer(directory.path()).args([
        "--verbose",
        "run",
        "testing",
        "--",
        "true",
    ]));
    assert_eq!(verbose.code, 0, "{}", verbose.stderr);
    assert!(verbose.stderr.contains("[h7] run the command: ok"), "{}", verbose.stderr);
}
