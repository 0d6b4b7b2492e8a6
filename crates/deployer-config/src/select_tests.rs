use camino::Utf8Path;

use super::*;
use crate::validate::parse_config;

const CONFIG: &str = r#"
project: demo
repo: /srv/git/demo.git
deploy_user: deploy
valid_roles: [web, worker, db, cache]
environments:
  staging:
    branch: main
    roles:
      web: [web1, web2, "ops@web3:2222"]
      worker: [worker1, web1]
      db: ["[2001:db8::5]:2200"]
      cache:
        command: "print cache hosts"
"#;

fn config() -> Config {
    parse_config(Utf8Path::new("test.yml"), CONFIG, &[]).unwrap()
}

/// Answers host commands from a script and records which roles were asked for.
#[derive(Default)]
struct ScriptedDiscovery {
    output: String,
    asked: Vec<String>,
}

impl RoleDiscovery for ScriptedDiscovery {
    fn discover(&mut self, request: &DiscoveryRequest<'_>) -> Result<String, String> {
        self.asked.push(request.role.to_owned());
        Ok(self.output.clone())
    }
}

fn select(selection: &Selection) -> (Vec<String>, Vec<String>) {
    let mut discovery = ScriptedDiscovery { output: "cache1\ncache2 # comment\n".to_owned(), asked: Vec::new() };
    let hosts = select_hosts(&config(), "staging", selection, &mut discovery).unwrap();
    let shown = hosts.iter().map(|host| format!("{host} {}", host.roles.join(","))).collect();
    (shown, discovery.asked)
}

fn dedupe() -> Selection {
    Selection { dedupe: true, ..Selection::default() }
}

#[test]
fn without_flags_every_role_in_order_with_duplicates_merged() {
    let (hosts, asked) = select(&dedupe());
    assert_eq!(
        hosts,
        [
            "deploy@web1 web,worker",
            "deploy@web2 web",
            "ops@web3:2222 web",
            "deploy@worker1 worker",
            "deploy@[2001:db8::5]:2200 db",
            "deploy@cache1 cache",
            "deploy@cache2 cache",
        ]
    );
    assert_eq!(asked, ["cache"]);
}

#[test]
fn roles_flag_replaces_the_configuration_and_skips_unneeded_commands() {
    let (hosts, asked) = select(&Selection { roles: vec!["worker".into()], ..dedupe() });
    assert_eq!(hosts, ["deploy@worker1 worker", "deploy@web1 worker"]);
    assert!(asked.is_empty(), "the cache role's command must not run: {asked:?}");
}

#[test]
fn hosts_come_before_role_hosts_and_get_their_roles() {
    let (hosts, _) =
        select(&Selection { hosts: vec!["web2".into(), "adhoc".into()], roles: vec!["db".into()], ..dedupe() });
    assert_eq!(hosts, ["deploy@web2 web", "deploy@adhoc ", "deploy@[2001:db8::5]:2200 db"]);
}

#[test]
fn no_dedupe_keeps_every_occurrence() {
    let (hosts, _) = select(&Selection { roles: vec!["web".into(), "worker".into()], ..Selection::default() });
    assert_eq!(
        hosts,
        ["deploy@web1 web", "deploy@web2 web", "ops@web3:2222 web", "deploy@worker1 worker", "deploy@web1 worker"]
    );
}

#[test]
fn exclude_matches_any_user_and_port_unless_given() {
    let (hosts, _) =
        select(&Selection { roles: vec!["web".into()], exclude: vec!["web3".into(), "other@web1".into()], ..dedupe() });
    assert_eq!(hosts, ["deploy@web1 web", "deploy@web2 web"]);
    let (hosts, _) = select(&Selection { roles: vec!["web".into()], exclude: vec!["web3:22".into()], ..dedupe() });
    assert_eq!(hosts.len(), 3, "a different port does not match: {hosts:?}");
}

#[test]
fn exclude_applies_without_dedupe_too() {
    let (hosts, _) = select(&Selection {
        roles: vec!["web".into(), "worker".into()],
        exclude: vec!["web1".into()],
        ..Selection::default()
    });
    assert_eq!(hosts, ["deploy@web2 web", "ops@web3:2222 web", "deploy@worker1 worker"]);
}

#[test]
fn user_precedence_host_string_then_flag_then_deploy_user() {
    let (hosts, _) = select(&Selection { roles: vec!["web".into()], user: Some("alice".into()), ..dedupe() });
    assert_eq!(hosts, ["alice@web1 web", "alice@web2 web", "ops@web3:2222 web"]);
    let mut config = config();
    config.deploy_user = None;
    let selection = Selection { hosts: vec!["web1".into()], ..dedupe() };
    let hosts = select_hosts(&config, "staging", &selection, &mut NoDiscovery).unwrap_err();
    // `-H web1` needs role membership, so the cache role's command would run.
    assert!(matches!(hosts, SelectionError::Discovery { .. }));
    config.environments["staging"].roles.shift_remove("cache");
    let hosts = select_hosts(&config, "staging", &selection, &mut NoDiscovery).unwrap();
    assert_eq!(hosts[0].user, None, "ssh decides when nobody names a user");
    assert_eq!(hosts[0].port, None);
}

#[test]
fn same_account_spelled_twice_is_one_host() {
    let (hosts, _) =
        select(&Selection { hosts: vec!["web1".into(), "deploy@web1".into(), "web1:22".into()], ..dedupe() });
    assert_eq!(hosts, ["deploy@web1 web,worker", "deploy@web1:22 "]);
}

#[test]
fn unknown_role_and_environment_suggest_names() {
    let error = select_hosts(&config(), "stagng", &dedupe(), &mut NoDiscovery).unwrap_err();
    assert_eq!(error.help().as_deref(), Some("did you mean `staging`?"));
    let selection = Selection { roles: vec!["wbe".into()], ..dedupe() };
    let error = select_hosts(&config(), "staging", &selection, &mut NoDiscovery).unwrap_err();
    assert_eq!(error.to_string(), "unknown role `wbe` in `-R`");
    assert_eq!(error.help().as_deref(), Some("did you mean `web`?"));
}

#[test]
fn bad_flag_hosts_and_discovered_hosts_are_refused() {
    let selection = Selection { hosts: vec!["-oProxyCommand=x".into()], ..dedupe() };
    assert!(matches!(
        select_hosts(&config(), "staging", &selection, &mut NoDiscovery),
        Err(SelectionError::InvalidHost { flag: "-H", .. })
    ));
    let mut discovery = ScriptedDiscovery { output: "ok1\n$(touch /tmp/x)\n".to_owned(), asked: Vec::new() };
    let selection = Selection { roles: vec!["cache".into()], ..dedupe() };
    let error = select_hosts(&config(), "staging", &selection, &mut discovery).unwrap_err();
    assert!(matches!(error, SelectionError::DiscoveredHost { line: 2, .. }), "{error}");
}

#[test]
fn bad_user_flag_is_refused() {
    let selection = Selection { user: Some("-oProxyCommand=x".into()), ..dedupe() };
    assert!(matches!(
        select_hosts(&config(), "staging", &selection, &mut NoDiscovery),
        Err(SelectionError::InvalidUser(_))
    ));
}

/// Gives every role asked for by tags one host named after it.
#[derive(Default)]
struct TaggedDiscovery {
    asked: Vec<String>,
}

impl RoleDiscovery for TaggedDiscovery {
    fn discover(&mut self, request: &DiscoveryRequest<'_>) -> Result<String, String> {
        Ok(format!("{}-by-command", request.role))
    }

    fn discover_tagged(&mut self, request: &TagRequest<'_>) -> Result<Vec<HostString>, String> {
        self.asked.push(request.role.to_owned());
        Ok(vec![format!("{}-1.ec2", request.role).parse().unwrap()])
    }
}

#[test]
fn with_tag_discovery_roles_the_file_gives_no_hosts_are_found_by_tags() {
    let text =
        format!("{CONFIG}aws: {{discover: tags}}\n").replace("      db: [\"[2001:db8::5]:2200\"]\n", "      db: []\n");
    let config = parse_config(Utf8Path::new("test.yml"), &text, &[]).unwrap();
    let mut discovery = TaggedDiscovery::default();
    let hosts = select_hosts(&config, "staging", &dedupe(), &mut discovery).unwrap();
    let shown: Vec<String> = hosts.iter().map(|host| format!("{} {}", host.host, host.roles.join(","))).collect();
    assert_eq!(discovery.asked, ["db"], "listed roles and roles with a command are not looked up by tags");
    assert!(shown.contains(&"db-1.ec2 db".to_owned()), "{shown:?}");
    assert!(shown.contains(&"cache-by-command cache".to_owned()), "{shown:?}");

    // The FabulAWS list form: every valid role comes from tags.
    let text = "project: demo\nrepo: /srv/git/demo.git\nvalid_roles: [web, worker]\nbranches: {production: main}\nenvironments: [production]\naws: {discover: tags}\n";
    let config = parse_config(Utf8Path::new("test.yml"), text, &[]).unwrap();
    let mut discovery = TaggedDiscovery::default();
    let hosts = select_hosts(&config, "production", &dedupe(), &mut discovery).unwrap();
    assert_eq!(hosts.iter().map(|host| host.host.as_str()).collect::<Vec<_>>(), ["web-1.ec2", "worker-1.ec2"]);
    assert_eq!(discovery.asked, ["web", "worker"]);
}

#[test]
fn without_aws_support_tag_discovery_says_so() {
    let text = "project: demo\nrepo: /srv/git/demo.git\nvalid_roles: [web]\nbranches: {production: main}\nenvironments: [production]\naws: {discover: tags}\n";
    let config = parse_config(Utf8Path::new("test.yml"), text, &[]).unwrap();
    let error = select_hosts(&config, "production", &dedupe(), &mut NoDiscovery).unwrap_err();
    assert_eq!(
        error.to_string(),
        "role `web` of environment `production`: finding hosts by EC2 tags failed: this deployer was built without AWS support (the `aws` cargo feature)"
    );
}
