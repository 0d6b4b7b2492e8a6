//! Named tasks (`tasks:`): run with `deployer task ENV NAME` on the hosts of their
//! roles, everywhere, one at a time, or once; their output shown as `run` shows it.

use deployer_fleet::DEPLOY_PATH;

use crate::support::project::{project_with, run_and_check};

const HOSTS: usize = 3;

fn extra() -> String {
    format!(
        "tasks:\n\
         \x20 warm_cache:\n\
         \x20   description: warm the page cache\n\
         \x20   command: [\"echo warmed $DEPLOYER_RELEASE\", \"echo warm >> {DEPLOY_PATH}/tasks\"]\n\
         \x20 one_off:\n\
         \x20   command: \"echo once >> {DEPLOY_PATH}/tasks\"\n\
         \x20   once: true\n\
         \x20 rolling:\n\
         \x20   command: \"date +%s%N >> {DEPLOY_PATH}/rolling; sleep 0.2; date +%s%N >> {DEPLOY_PATH}/rolling\"\n\
         \x20   serial: true\n"
    )
}

#[test]
fn tasks_run_on_their_hosts_everywhere_once_or_one_at_a_time() {
    let Some(project) = project_with(HOSTS, crate::support::project::DEFAULT_ROLES, &extra()) else { return };
    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let release = project.current(0).unwrap();

    let check = run_and_check(&project, &["check"]);
    assert!(check.stdout.contains("tasks (`deployer task ENV NAME`): warm_cache (every host), one_off (every host, once), rolling (every host, one host at a time)"), "{}", check.stdout);

    let outcome = run_and_check(&project, &["task", "testing", "warm_cache"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let host = project.fleet.hosts[1].host_string(&project.fleet.user);
    assert!(outcome.stdout.contains(&format!("[{host}] out: warmed {release}")), "{}", outcome.stdout);
    for host in 0..HOSTS {
        assert_eq!(project.lines(host, "tasks"), ["warm"], "host {host}");
    }

    assert_eq!(run_and_check(&project, &["task", "testing", "one_off"]).code, 0);
    let once: usize =
        (0..HOSTS).map(|host| project.lines(host, "tasks").iter().filter(|line| *line == "once").count()).sum();
    assert_eq!(once, 1, "`once` runs on one host");

    assert_eq!(run_and_check(&project, &["task", "testing", "rolling"]).code, 0);
    let spans: Vec<(u128, u128)> = (0..HOSTS)
        .map(|host| {
            let lines = project.lines(host, "rolling");
            (lines[0].parse().unwrap(), lines[1].parse().unwrap())
        })
        .collect();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "`serial` runs one host at a time: {spans:?}");
    }

    let outcome = run_and_check(&project, &["task", "testing", "warm_cach"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("unknown task `warm_cach`") && outcome.stderr.contains("warm_cache"),
        "{}",
        outcome.stderr
    );
}
