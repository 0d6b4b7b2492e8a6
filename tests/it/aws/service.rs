//! `deploy_serial` on web servers outside an Auto Scaling group that serve behind
//! a target group (`FabulAWS`'s `deploy_serial_without_autoscaling`): each leaves
//! the target group before it switches and rejoins it after its health check.

use std::collections::BTreeMap;

use deployer_fleet::Fleet;

use crate::support::moto::Moto;
use crate::support::project::{run_and_check, skip};

use super::launch_project;

/// The position of `needle` in `text`, which must contain it.
fn at(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or_else(|| panic!("`{needle}` is missing from:\n{text}"))
}

#[test]
fn each_web_server_leaves_its_target_group_while_it_switches_and_a_failure_puts_it_back() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    let web = moto.ctl(&["launch", &subnet, "demo", "testing", "web", "2"]);
    moto.ctl(&["launch", &subnet, "demo", "testing", "worker", "1"]);
    let web: Vec<(String, String)> = web
        .as_array()
        .unwrap()
        .iter()
        .map(|instance| (instance["id"].as_str().unwrap().to_owned(), instance["ip"].as_str().unwrap().to_owned()))
        .collect();
    let mut arguments = vec!["target-group", "demo-testing-web", subnet.as_str()];
    arguments.extend(web.iter().map(|(id, _)| id.as_str()));
    moto.ctl(&arguments);
    let mut instances = BTreeMap::new();
    let mut project = launch_project(&moto, &subnet, "true");
    project.append_config("target_groups: {testing: [demo-testing-web]}\n");
    super::unhealthy_where_marked(&project);
    moto.reconcile(&mut project.fleet, &mut instances);
    let outcome = moto.run_reconciling(&mut project, &mut instances, &["create_environment", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    project.commit("v2\n");
    project.tick();
    let name = |ip: &str| format!("{}@{ip}:2222", project.fleet.user);
    let (first, second) = (name(&web[0].1), name(&web[1].1));

    let plan = run_and_check(&project, &["plan", "deploy_serial", "testing", "--batch-size", "1"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("leaves target group(s) demo-testing-web before its steps"), "{}", plan.stdout);
    let all_at_once = run_and_check(&project, &["plan", "deploy_serial", "testing", "--batch-size", "3"]);
    assert_eq!(all_at_once.code, 2, "{}", all_at_once.stderr);
    assert!(
        all_at_once.stderr.contains("would take all 2 `web` servers out of the target groups"),
        "{}",
        all_at_once.stderr
    );

    let outcome =
        moto.run_reconciling(&mut project, &mut instances, &["deploy_serial", "testing", "--batch-size", "1"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let log = &outcome.stderr;
    // One server at a time: out, switched and checked, back in; then the next.
    let mut order = Vec::new();
    for host in [&first, &second] {
        order.push(at(log, &format!("take {host} out of service: ok")));
        order.push(at(log, &format!("[{host}] switch `current`")));
        order.push(at(log, &format!("[{host}] health check (`web`): ok")));
        order.push(at(log, &format!("put {host} back in service: ok")));
    }
    let (a, b) = (&order[..4], &order[4..]);
    assert!(a.windows(2).all(|pair| pair[0] < pair[1]) && b.windows(2).all(|pair| pair[0] < pair[1]), "{log}");
    assert!(a[3] < b[0] || b[3] < a[0], "the two servers were never out at once:\n{log}");
    let v2 = project.current(instances[&web[0].0]).unwrap();
    let healthy = |moto: &Moto| {
        let targets = moto.ctl(&["targets", "demo-testing-web"]);
        web.iter().all(|(id, _)| {
            targets.as_array().unwrap().iter().any(|target| target["id"] == id.as_str() && target["state"] == "healthy")
        })
    };
    assert!(healthy(&moto), "both serve again: {}", moto.ctl(&["targets", "demo-testing-web"]));

    // v3 fails its health check on the first server: it switches back and
    // rejoins the target group; the second never left it.
    project.commit("v3\n");
    project.tick();
    for (id, _) in &web {
        std::fs::write(project.host_file(instances[id], "unhealthy"), "broken\n").unwrap();
    }
    let outcome =
        moto.run_reconciling(&mut project, &mut instances, &["deploy_serial", "testing", "--batch-size", "1"]);
    assert_eq!(outcome.code, 3, "{}\n{}", outcome.stdout, outcome.stderr);
    let log = &outcome.stderr;
    let left: Vec<&String> =
        [&first, &second].into_iter().filter(|host| log.contains(&format!("take {host} out of service: ok"))).collect();
    assert_eq!(left.len(), 1, "only the first batch left: {log}");
    assert!(log.contains(&format!("put {} back in service: ok", left[0])), "{log}");
    assert!(healthy(&moto), "both serve again: {}", moto.ctl(&["targets", "demo-testing-web"]));
    for (id, _) in &web {
        assert_eq!(project.current(instances[id]).as_deref(), Some(v2.as_str()), "{id} serves v2");
    }
    moto.assert_invariants(None);
}
