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
