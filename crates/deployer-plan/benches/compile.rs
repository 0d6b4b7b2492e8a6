//! Compiling a `deploy_full` plan for 1,000 hosts (issue 3 target: under 50 ms).
//!
//! Run: `cargo bench -p deployer-plan --bench compile`

use camino::Utf8Path;
use deployer_config::{NoDiscovery, Selection, parse_config, select_hosts};
use deployer_plan::{CommandSpec, Invocation, PlanInput, Revision, Sources, compile};

const HOSTS: usize = 1_000;

fn main() {
    divan::main();
}

fn config_text() -> String {
    let mut text = String::from(
        r#"project: bench
repo: git@example.com:bench.git
deploy_user: deploy
valid_roles: [web, worker]
roles:
  web:
    build: ["python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt"]
    restart: sudo systemctl restart bench-web
    healthcheck: {command: "curl -fsS http://127.0.0.1:8000/health", retries: 3}
  worker:
    build: ".venv/bin/pip install -r requirements.txt"
    restart: sudo systemctl restart bench-worker
migrate: {role: worker, command: ".venv/bin/python manage.py migrate"}
shared_dirs: [media, log]
shared_files: [.env.local]
templates:
  - {src: templates/app.env.j2, dest: .env, mode: "0600"}
  - {src: templates/nginx.conf.j2, dest: deploy/nginx.conf, roles: [web]}
static_html: {upgrade_message: templates/503.html, healthcheck_override: templates/healthcheck.html}
password_names: [database_password, secret_key]
vars: {domain: example.com, port: 8000}
environments:
  production:
    branch: main
    roles:
      web:
"#,
    );
    for host in 0..HOSTS * 4 / 5 {
        text.push_str(&format!("        - web{host}.example.com\n"));
    }
    text.push_str("      worker:\n");
    for host in 0..HOSTS / 5 {
        text.push_str(&format!("        - worker{host}.example.com\n"));
    }
    text
}

fn sources() -> Sources {
    let mut sources = Sources::new();
    sources.insert(
        "templates/app.env.j2".into(),
        "DB={{ secrets.database_password }}\nKEY={{ secrets.secret_key }}\nHOST={{ host }}\n".into(),
    );
    sources.insert(
        "templates/nginx.conf.j2".into(),
        "server {\n  server_name {{ domain }};\n  root {{ current_dir }}/public;\n  location / { proxy_pass http://127.0.0.1:{{ port }}; }\n}\n".into(),
    );
    sources.insert("templates/503.html".into(), "<h1>Upgrade in progress</h1>\n".into());
    sources.insert("templates/healthcheck.html".into(), "OK\n".into());
    sources
}

#[divan::bench(sample_count = 20)]
fn deploy_full_1000_hosts(bencher: divan::Bencher) {
    let config = parse_config(Utf8Path::new("bench.yml"), &config_text(), &[]).unwrap();
    let hosts =
        select_hosts(&config, "production", &Selection { dedupe: true, ..Selection::default() }, &mut NoDiscovery)
            .unwrap();
    assert_eq!(hosts.len(), HOSTS);
    let sources = sources();
    let invocation = Invocation {
        deploy_id: "20261123T010203Z-1".into(),
        local_user: "bench".into(),
        controller: "bench".into(),
        pid: 1,
        stamp: "20261123T010203Z".into(),
        started_at: "2026-11-23T01:02:03Z".into(),
    };
    bencher.bench(|| {
        compile(&PlanInput {
            config: &config,
            deployment: "bench",
            environment: "production",
            command: CommandSpec::DeployFull,
            hosts: &hosts,
            revision: Some(Revision {
                branch: Some("main".into()),
                commit: "3f786850e387550fdab836ed7e6dc881de23001b".into(),
            }),
            invocation: invocation.clone(),
            sources: &sources,
            shipping: None,
            group: None,
        })
        .unwrap()
    });
}
