//! Building the configuration model and resolving hosts for a 10,000-host fleet.
//!
//! Run: `cargo bench -p deployer-config --bench resolve`
//! Target (issue 2): parse + validate + resolve under 100 ms.

use camino::Utf8Path;
use deployer_config::{NoDiscovery, Selection, parse_config, select_hosts};

const HOSTS: usize = 10_000;
const ROLES: [&str; 5] = ["web", "worker", "db-primary", "db-replica", "cache"];

fn main() {
    divan::main();
}

/// A production environment of `HOSTS` hosts spread over five roles, with some
/// hosts in two roles so deduplication has work to do.
fn fleet_config() -> String {
    let mut text = String::from(
        "project: bench\nrepo: git@example.com:bench.git\ndeploy_user: deploy\nvalid_roles: [web, worker, db-primary, db-replica, cache]\nenvironments:\n  production:\n    branch: main\n    roles:\n",
    );
    let per_role = HOSTS / ROLES.len();
    for (role_index, role) in ROLES.iter().enumerate() {
        text.push_str(&format!("      {role}:\n"));
        for host in 0..per_role {
            let number = role_index * per_role + host;
            text.push_str(&format!("        - host{number}.prod.example.com\n"));
        }
        // Every role also lists the first ten web hosts: duplicates to merge.
        for host in 0..10 {
            if *role != "web" {
                text.push_str(&format!("        - host{host}.prod.example.com\n"));
            }
        }
    }
    text
}

#[divan::bench(sample_count = 20)]
fn parse_and_validate(bencher: divan::Bencher) {
    let text = fleet_config();
    bencher.bench(|| parse_config(Utf8Path::new("bench.yml"), divan::black_box(&text), &[]).unwrap());
}

#[divan::bench(sample_count = 20)]
fn resolve_hosts(bencher: divan::Bencher) {
    let config = parse_config(Utf8Path::new("bench.yml"), &fleet_config(), &[]).unwrap();
    let selection = Selection { dedupe: true, ..Selection::default() };
    bencher.bench(|| {
        let hosts = select_hosts(&config, "production", &selection, &mut NoDiscovery).unwrap();
        assert_eq!(hosts.len(), HOSTS);
        hosts
    });
}

#[divan::bench(sample_count = 20)]
fn parse_validate_and_resolve(bencher: divan::Bencher) {
    let text = fleet_config();
    let selection = Selection { dedupe: true, ..Selection::default() };
    bencher.bench(|| {
        let config = parse_config(Utf8Path::new("bench.yml"), divan::black_box(&text), &[]).unwrap();
        select_hosts(&config, "production", &selection, &mut NoDiscovery).unwrap()
    });
}
