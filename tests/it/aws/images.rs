//! `create_image`: the builder, the image, the launch template version, pruning.

use std::collections::BTreeMap;

use deployer_fleet::Fleet;

use crate::support::moto::Moto;
use crate::support::project::{Project, run_and_check, skip};

use super::launch_project;

/// [`launch_project`] whose environment has an Auto Scaling group (size 0) on a
/// launch template: `create_image` builds the group's image.
fn image_project(moto: &Moto, subnet: &str) -> Project {
    moto.ctl(&["group", "demo-testing-ag", subnet, "demo", "testing", "web", "0"]);
    let project = launch_project(moto, subnet, "true");
    project.append_config("auto_scaling_groups: {testing: demo-testing-ag}\n");
    project
}

fn versions(moto: &Moto) -> Vec<(u64, String)> {
    let versions = moto.ctl(&["template-versions", "demo-testing-ag-template"]);
    versions
        .as_array()
        .unwrap()
        .iter()
        .map(|version| (version["version"].as_u64().unwrap(), version["image"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn create_image_builds_the_release_into_an_image_and_a_launch_template_version() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    let mut project = image_project(&moto, &subnet);
    let mut instances = BTreeMap::new();

    let plan = run_and_check(&project, &["plan", "create_launch_config_for_deployment", "testing"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    for expected in [
        "builder-web  web  (launched by this run, zone a)",
        "make the image `demo_testing_web_",
        "add a version of launch template lt-",
        "(a copy of version 1)",
        "terminate the builder",
    ] {
        assert!(plan.stdout.contains(expected), "{expected}:\n{}", plan.stdout);
    }
    assert!(!plan.stdout.contains(": migrate:"), "a builder never migrates:\n{}", plan.stdout);

    let outcome = moto.run_reconciling(&mut project, &mut instances, &["create_image", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let images = moto.ctl(&["images"]);
    let images = images.as_array().unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    let image = &images[0];
    let release = image["tags"]["deployer:release"].as_str().expect("the image names its release");
    assert_eq!(image["tags"]["role"], "web");
    assert_eq!(image["tags"]["deployer:commit"].as_str().map(str::len), Some(40));
    assert_eq!(
        versions(&moto),
        [(1, "ami-03cf127a".to_owned()), (2, image["id"].as_str().unwrap().to_owned())],
        "a new version on top of the one the group launches"
    );
    // The builder served the release, then was terminated.
    let (_, &builder) = instances.iter().next().expect("the builder was an sshd host");
    assert_eq!(project.current(builder).as_deref(), Some(release));
    assert_eq!(moto.roles("demo", "testing"), [("terminated".to_owned(), "web-BUILDER".to_owned())]);
    moto.assert_invariants(Some("demo-testing-ag"));
}

#[test]
fn a_builder_that_fails_its_health_check_makes_no_image_and_is_terminated() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    let mut project = image_project(&moto, &subnet);
    // The web health check is `test -f app.txt`: this release has none.
    let source = project.path().join("source");
    crate::support::git(&source, &["rm", "-q", "app.txt"]);
    std::fs::write(source.join("other.txt"), "x\n").unwrap();
    crate::support::git(&source, &["add", "."]);
    crate::support::git(&source, &["commit", "-q", "-m", "no app"]);
    let mut instances = BTreeMap::new();

    let outcome = moto.run_reconciling(&mut project, &mut instances, &["create_image", "testing"]);
    assert_eq!(outcome.code, 3, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stderr.contains("terminate the servers this run launched: ok, terminated i-"),
        "{}",
        outcome.stderr
    );
    assert_eq!(moto.ctl(&["images"]), serde_json::json!([]), "no image");
    assert_eq!(versions(&moto).len(), 1, "no launch template version");
    assert_eq!(moto.roles("demo", "testing"), [("terminated".to_owned(), "web-BUILDER".to_owned())]);
    moto.assert_invariants(Some("demo-testing-ag"));
}

#[test]
fn create_image_keeps_the_newest_release_images_and_removes_older_ones() {
    if let Some(reason) = Fleet::unavailable().or_else(Moto::unavailable) {
        skip(&reason);
        return;
    }
    let moto = Moto::start();
    let subnet = moto.loopback_subnet();
    let mut project = image_project(&moto, &subnet);
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    std::fs::write(project.path().join("fabulaws-config.yml"), config.replace("aws:\n", "aws:\n  images_keep: 2\n"))
        .unwrap();
    let mut instances = BTreeMap::new();
    let mut made = Vec::new();
    for _ in 0..3 {
        project.tick();
        let outcome = moto.run_reconciling(&mut project, &mut instances, &["create_image", "testing"]);
        assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
        let image = outcome.stderr.split("ok, made ").nth(1).and_then(|rest| rest.split_whitespace().next());
        made.push(image.expect("the run names its image").to_owned());
    }
    let images = moto.ctl(&["images"]);
    let mut kept: Vec<String> =
        images.as_array().unwrap().iter().map(|image| image["id"].as_str().unwrap().to_owned()).collect();
    kept.sort();
    let mut newest = made[1..].to_vec();
    newest.sort();
    assert_eq!(kept, newest, "the two newest release images are kept, the oldest ({}) removed", made[0]);
    moto.assert_invariants(Some("demo-testing-ag"));
}
