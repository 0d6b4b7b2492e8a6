//! `FabulAWS`'s computed template names (`_setup_env` and `update_local_settings`):
//! database keys, local names and stunnel ports over the primary and replicas,
//! the replica fallback, and the server objects' attributes.

mod support;

use camino::Utf8PathBuf;
use deployer_config::load_config;
use deployer_plan::CommandSpec;
use support::plan;

const TEMPLATE: &str = "ALL={% for s in all_databases %}{{ s.database_key }}:{{ s.database_local_name }}:{{ s.stunnel_port }}:{{ s }} {% endfor %}\n\
READ={% for s in slave_databases %}{{ s.database_key }} {% endfor %}\n\
MASTER={{ master_database }}/{{ master_database.database_key }}\n\
CACHE={{ cache_server.internal_ip }}\n\
WHO={{ deployment_tag }}/{{ environment }}/{{ current_role }}/{{ current_changeset }}\n\
NAMES={{ database_name }}/{{ vhost }}/{{ staticfiles_s3_bucket }}/{{ server_port }}\n\
HOSTS={{ allowed_hosts | join(',') }}\n";

/// The text of the plan of `deploy_full production` with `replicas` replica hosts.
fn rendered(replicas: &[&str]) -> String {
    let directory = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(directory.path().to_owned()).unwrap();
    std::fs::write(root.join("settings.j2"), TEMPLATE).unwrap();
    let replica_line =
        if replicas.is_empty() { String::new() } else { format!("      db-replica: [{}]\n", replicas.join(", ")) };
    let config = format!(
        "project: myproject\nrepo: /srv/git/myproject\nvalid_roles: [web, db-primary, db-replica, cache]\n\
         server_ports: {{production: 8001}}\nsite_domains_map: {{production: [www.example.com]}}\n\
         localsettings_template: settings.j2\n\
         environments:\n  production:\n    branch: main\n    roles:\n      web: [web1]\n      db-primary: [db1]\n{replica_line}      cache: [cache1]\n"
    );
    std::fs::write(root.join("fabulaws-config.yml"), config).unwrap();
    let config = load_config(&root.join("fabulaws-config.yml"), &[]).unwrap();
    let plan = plan(&config, "production", CommandSpec::DeployFull).unwrap();
    plan.to_text()
}

#[test]
fn databases_get_fabulaws_keys_names_and_stunnel_ports() {
    let text = rendered(&["db2", "db3"]);
    for expected in [
        "ALL=default:myproject_production:7432:db1 replica0:myproject_production_replica0:7433:db2 replica1:myproject_production_replica1:7434:db3 ",
        "READ=replica0 replica1 ",
        "MASTER=db1/default",
        "CACHE=cache1",
        "WHO=myproject/production/web/3f786850e387550fdab836ed7e6dc881de23001b",
        "NAMES=myproject_production/myproject_production/myproject-production-static-files/8001",
        "HOSTS=www.example.com,web1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn without_replicas_reads_go_to_the_primary() {
    let text = rendered(&[]);
    assert!(text.contains("ALL=default:myproject_production:7432:db1 \n"), "{text}");
    assert!(text.contains("READ=default \n"), "{text}");
}
