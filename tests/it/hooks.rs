//! `hooks:` on a real fleet: steps on hosts and on this machine at the phase
//! boundaries of a deploy, in order, with the deploy's facts; `once` on one
//! host; a failing `before_switch` changes nothing live.

use deployer_fleet::DEPLOY_PATH;

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{project_with, run_and_check};

const HOSTS: usize = 3;

fn roles() -> String {
    format!(
        "  web:\n\
         \x20   build: \"echo build >> {DEPLOY_PATH}/order\"\n\
         \x20   restart: \"echo restart >> {DEPLOY_PATH}/order\"\n\
         \x20   healthcheck: test -f app.txt\n"
    )
}

fn hooks() -> String {
    format!(
        "hooks:\n\
         \x20 before_deploy:\n\
         \x20   - local: 'echo \"before_deploy $DEPLOYER_RELEASE $DEPLOYER_COMMIT $DEPLOYER_HOSTS\" >> hooks.log'\n\
         \x20 after_prepare:\n\
         \x20   - run: 'echo \"after_prepare $DEPLOYER_RELEASE prev=$DEPLOYER_PREVIOUS_RELEASE in=$(pwd)\" >> {DEPLOY_PATH}/order'\n\
         \x20 before_switch:\n\
         \x20   - run: 'echo before_switch >> {DEPLOY_PATH}/order; test ! -e {DEPLOY_PATH}/fail-hook'\n\
         \x20   - run: 'echo once >> {DEPLOY_PATH}/order'\n\
         \x20     once: true\n\
         \x20 after_switch:\n\
         \x20   - run: 'echo \"after_switch prev=$DEPLOYER_PREVIOUS_RELEASE\" >> {DEPLOY_PATH}/order'\n\
         \x20 after_restart:\n\
         \x20   - local: 'echo \"after_restart $DEPLOYER_HOOK\" >> hooks.log'\n\
         \x20 after_deploy:\n\
         \x20   - local: 'echo \"after_deploy $DEPLOYER_OUTCOME\" >> hooks.log'\n\
         \x20 on_failure:\n\
         \x20   - local: 'echo \"on_failure $DEPLOYER_OUTCOME\" >> hooks.log'\n\
         \x20   - run: 'echo \"on_failure $DEPLOYER_OUTCOME $(basename $(readlink {DEPLOY_PATH}/testing/current))\" >> {DEPLOY_PATH}/order'\n\
         \x20 on_rollback:\n\
         \x20   - local: 'echo \"on_rollback $DEPLOYER_OUTCOME\" >> hooks.log; exit 3'\n"
    )
}

#[test]
fn hooks_run_in_order_with_the_deploys_facts_and_a_failing_before_switch_changes_nothing() {
    let Some(project) = project_with(HOSTS, &roles(), &hooks()) else { return };
    let plan = run_and_check(&project, &["plan", "deploy_full", "testing"]);
    assert!(plan.stdout.contains("before_switch: hook `before_switch` on the hosts"), "{}", plan.stdout);
    assert!(plan.stdout.contains("before_deploy: hook `before_deploy` on this machine"), "{}", plan.stdout);

    assert_eq!(run_and_check(&project, &["deploy_full", "testing"]).code, 0);
    let first = project.current(0).unwrap();
    for host in 0..HOSTS {
        std::fs::remove_file(project.host_file(host, "order")).unwrap();
    }
    std::fs::remove_file(project.path().join("hooks.log")).unwrap();

    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let second = project.current(0).unwrap();
    check_fleet(&project, HOSTS, &outcome, &Expect::all_on(&second));
    let release_dir = format!("{DEPLOY_PATH}/testing/releases/{second}");
    let mut once = 0;
    for host in 0..HOSTS {
        let mut order = project.lines(host, "order");
        once += usize::from(order.contains(&"once".to_owned()));
        order.retain(|line| line != "once");
        assert_eq!(
            order,
            [
                "build".to_owned(),
                format!("after_prepare {second} prev={first} in={release_dir}"),
                "before_switch".to_owned(),
                format!("after_switch prev={first}"),
                "restart".to_owned(),
            ],
            "host {host}"
        );
    }
    assert_eq!(once, 1, "a `once` step runs on one host");
    let commit = crate::support::git(&project.path().join("source"), &["rev-parse", "HEAD"]);
    let hosts: Vec<String> = project.fleet.hosts.iter().map(|host| host.host_string(&project.fleet.user)).collect();
    let log = std::fs::read_to_string(project.path().join("hooks.log")).unwrap();
    assert_eq!(
        log,
        format!(
            "before_deploy {second} {commit} {}\nafter_restart after_restart\nafter_deploy succeeded\n",
            hosts.join(" ")
        )
    );

    // A failing before_switch hook: nothing switched anywhere, exit 1, the hook named.
    project.next_version("v3\n");
    std::fs::write(project.host_file(1, "fail-hook"), "").unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("before_switch"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("failed; nothing was switched"), "{}", outcome.stderr);
    check_fleet(&project, HOSTS, &outcome, &Expect::all_on(&second));
    let log = std::fs::read_to_string(project.path().join("hooks.log")).unwrap();
    assert_eq!(
        (log.matches("before_deploy").count(), log.matches("after_restart after_restart").count()),
        (2, 1),
        "the failed deploy began but never reached after_restart:\n{log}"
    );
    assert!(log.ends_with("on_failure failed\n"), "on_failure ran after the undo, and on_rollback did not:\n{log}");
    std::fs::remove_file(project.host_file(1, "fail-hook")).unwrap();

    // A health check that fails after the switch: switched back (exit 3), then
    // on_failure on every host (already back on the release before) and
    // on_rollback, whose own failure is reported without changing the exit code.
    project.next_version("v4\n");
    for host in 0..HOSTS {
        std::fs::remove_file(project.host_file(host, "order")).unwrap();
    }
    std::fs::remove_file(project.path().join("hooks.log")).unwrap();
    let config_path = project.path().join("fabulaws-config.yml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        config.replace("healthcheck: test -f app.txt", "healthcheck: test ! -e /srv/deployer-fleet/fail-health"),
    )
    .unwrap();
    std::fs::write(project.host_file(2, "fail-health"), "").unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("hook `on_rollback` failed after the run")
            && outcome.stderr.contains("the run's result stands"),
        "{}",
        outcome.stderr
    );
    check_fleet(&project, HOSTS, &outcome, &Expect::all_on(&second));
    let log = std::fs::read_to_string(project.path().join("hooks.log")).unwrap();
    assert!(log.ends_with("on_failure rolled_back\non_rollback rolled_back\n"), "{log}");
    for host in 0..HOSTS {
        assert_eq!(
            project.lines(host, "order").last(),
            Some(&format!("on_failure failed {second}")),
            "host {host}: on_failure ran after the switch back"
        );
    }
}
