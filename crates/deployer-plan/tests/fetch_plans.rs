//! How code reaches the hosts: by default the prepare fetches; with
//! `execution.fetch_concurrency` a `fetch` phase of that pool size comes first;
//! with `fetch_strategy: push` the controller's archive is sent in that phase,
//! as a payload slot the plan never holds.

mod support;

use camino::Utf8Path;
use deployer_config::parse_config;
use deployer_plan::{CommandSpec, Concurrency, Plan};

const CONFIG: &str = "project: myproject\nrepo: git@git.example.com:team/myproject.git\nvalid_roles: [web]\n\
roles: {web: {restart: sudo systemctl restart myproject}}\n\
environments:\n  production:\n    branch: main\n    roles:\n      web: [web1, web2, web3]\n";

fn plan(execution: &str) -> Plan {
    let text = format!("{CONFIG}{execution}");
    let config = parse_config(Utf8Path::new("fabulaws-config.yml"), &text, &[]).unwrap();
    support::plan(&config, "production", CommandSpec::DeployFull).unwrap()
}

fn phase_names(plan: &Plan) -> Vec<&str> {
    plan.phases.iter().map(|phase| phase.name.as_str()).collect()
}

#[test]
fn by_default_the_prepare_fetches_and_there_is_no_fetch_phase() {
    let plan = plan("");
    assert!(!phase_names(&plan).contains(&"fetch"), "{:?}", phase_names(&plan));
    assert!(plan.upload_names().is_empty());
}

#[test]
fn fetch_concurrency_makes_a_fetch_phase_of_that_pool_size_before_the_prepare() {
    let plan = plan("execution: {fetch_concurrency: 2}\n");
    let names = phase_names(&plan);
    let fetch = names.iter().position(|name| *name == "fetch").expect("a fetch phase");
    assert_eq!(names[fetch + 1], "prepare");
    assert!(names[..fetch].contains(&"lock"), "the fetch runs under the lock: {names:?}");
    let phase = &plan.phases[fetch];
    assert!(matches!(phase.concurrency, Concurrency::Pool { size: 2 }));
    assert_eq!(phase.work.len(), 3);
    assert!(phase.undo.is_empty(), "a fetch into the mirror needs no undo");
    assert!(plan.upload_names().is_empty());
}

#[test]
fn push_sends_the_archive_as_an_upload_and_the_plan_never_holds_it() {
    let plan = plan("execution: {fetch_strategy: push}\n");
    // The archive goes in the same script as the lock and the prepare.
    let fetch = plan.phases.iter().find(|phase| phase.name == "lock+fetch+prepare").expect("a fetch phase");
    assert!(fetch.description.contains("then send this machine's archive of the release to every host"));
    assert_eq!(fetch.undo.len(), 3, "the pushed archive is removed on undo");
    assert_eq!(plan.upload_names().into_iter().collect::<Vec<_>>(), ["archive"]);
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains(r#""upload":{"payload":"archive"}"#), "the step that asks for the archive is shown: {json}");
    // Hosts never contact the repository.
    assert!(!json.contains("git.example.com"), "the repository reaches a host script");
    let text = plan.to_text();
    assert!(text.contains("receive the archive of"), "{text}");
    assert!(text.contains("unpack the pushed archive of") && text.contains("and extract it"), "{text}");
    assert!(text.contains("hardlink=no"), "{text}");
}

#[test]
fn push_with_hard_linked_releases_asks_for_what_changed_and_links_the_rest() {
    let plan = plan("execution: {fetch_strategy: push, hardlink_releases: true}\n");
    let text = plan.to_text();
    assert!(text.contains("receive what the host lacks of"), "{text}");
    assert!(text.contains("and link unchanged files"), "{text}");
    assert!(text.contains("pushed_tree_commit=/srv/myproject/production/.deployer/pushed-tree.commit"), "{text}");
    assert!(!text.contains("hardlink=no"), "{text}");
}
