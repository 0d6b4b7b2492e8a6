//! Phases merged into one script per host: a leading first host, and what a
//! host that switched and then failed in the same script counts as.

use super::*;

/// A plan of one lock phase on `hosts` hosts whose first host leads; host
/// `index` runs its lock step `lock(index)` then `then(index)`.
fn leading(hosts: usize, lock: impl Fn(usize) -> String, then: impl Fn(usize) -> Vec<Step>) -> Plan {
    let mut phase = phase("lock+prepare", hosts, POOL, |host| {
        let mut steps = vec![step(StepKind::Lock, "lock", &lock(host))];
        steps.extend(then(host));
        steps
    });
    phase.leads = true;
    plan(hosts, vec![phase])
}

#[tokio::test]
async fn a_leader_whose_lock_is_held_keeps_every_other_host_from_starting() {
    let fixture = fixture();
    let log = fixture.log.display().to_string();
    let plan = leading(
        3,
        |host| format!("echo 'lock {host}' >> '{log}'\n[ {host} -ne 0 ] || exit 75"),
        logged(&fixture.log, "prepare", ""),
    );
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::LockHeld);
    assert_eq!(log_lines(&fixture), ["lock 0"], "no other host may start");
    assert!(matches!(outcome.hosts[1].result, HostResult::NothingRan), "{:?}", outcome.hosts[1].result);
}

#[tokio::test]
async fn the_others_start_when_the_leaders_lock_ends_not_when_its_work_does() {
    let fixture = fixture();
    let log = fixture.log.display().to_string();
    // The leader's second step waits for host 1's: it finishes only if host 1
    // started while the leader was still at work.
    let plan = leading(
        2,
        |_| "true".to_owned(),
        |host| {
            let script = if host == 0 {
                format!(
                    "n=0\nuntil grep -qx 'prepare 1' '{log}'; do n=$((n + 1)); [ $n -lt 200 ] || exit 9; sleep 0.05; done"
                )
            } else {
                format!("echo 'prepare {host}' >> '{log}'")
            };
            vec![step(StepKind::Command, "prepare", &script)]
        },
    );
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
}

#[tokio::test]
async fn the_others_never_start_before_the_leaders_lock_ended() {
    let fixture = fixture();
    let log = fixture.log.display().to_string();
    let plan = leading(
        4,
        |host| {
            if host == 0 {
                format!("sleep 0.3\necho 'locked 0' >> '{log}'")
            } else {
                format!("echo 'lock {host}' >> '{log}'")
            }
        },
        |_| Vec::new(),
    );
    let (outcome, _) = execute(&plan, ExecOptions::default(), vec![]).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    let lines = log_lines(&fixture);
    assert_eq!(lines[0], "locked 0", "{lines:?}");
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn a_host_that_switched_then_failed_in_the_same_script_counts_as_switched() {
    let fixture = fixture();
    let mut switch = phase("switch+healthcheck", 3, POOL, |host| {
        vec![
            step(StepKind::Switch, "switch", "true"),
            step(StepKind::HealthCheck, "health", if host == 2 { "false" } else { "true" }),
        ]
    });
    switch.undo = (0..3).map(|host| HostWork { host, steps: logged(&fixture.log, "switch-back", "")(host) }).collect();
    let plan = plan(3, vec![switch]);
    let options = ExecOptions { halt_on_failure: true, ..ExecOptions::default() };
    let (outcome, _) = execute(&plan, options, vec![]).await;
    assert_eq!(outcome.status, RunStatus::Partial);
    assert_eq!(outcome.switched, ["h0", "h1", "h2"], "h2 switched before its health check failed");
    assert!(log_lines(&fixture).is_empty(), "halt never switches back");
}
