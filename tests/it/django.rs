//! The Django recipe in `examples/django/`, deployed as written to three real sshd
//! hosts: a virtualenv per release, `collectstatic`, the migration once on the
//! worker, FabulAWS's `local_settings.py` names rendered with the secrets, a
//! restart that starts a real WSGI server on each web host, and a health check
//! that asks that server which release it serves.

use std::io::{Read, Write};
use std::path::Path;

use crate::support::project::{DEFAULT_ROLES, Project, project_with, run_and_check};
use crate::support::{git, root};

const SECRET_KEY: &str = "django-secret-5f0e-never-printed";
const DOMAIN: &str = "testing.example.com";

/// The example's `server_ports.testing`.
const PORT: u16 = 8002;

/// The web servers a deploy started, stopped when the test ends however it ends:
/// they run detached from any ssh session, so the fleet cannot stop them.
struct AppServers<'a>(&'a Project);

impl Drop for AppServers<'_> {
    fn drop(&mut self) {
        for host in 0..2 {
            let pid_file = self.0.host_file(host, "testing/shared/run/web.pid");
            if let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|pid| pid.trim().parse::<u32>().ok()) {
                let _ = std::process::Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

/// A GET from this process to a web host's app: status code and body.
fn get(project: &Project, host: usize, path: &str) -> (u16, String) {
    let address = (project.fleet.hosts[host].address, PORT);
    let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|error| panic!("{address:?}: {error}"));
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {DOMAIN}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

fn health(project: &Project, host: usize) -> serde_json::Value {
    let (status, body) = get(project, host, "/health");
    assert_eq!(status, 200, "host {host}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The example project on the fleet: its app committed as the repository, its
/// configuration as written but for the repository, the deploy root, ssh and the
/// hosts (web on hosts 0 and 1; worker, database and cache on host 2).
fn django_project() -> Option<Project> {
    let project = project_with(3, DEFAULT_ROLES, "")?;
    let example = root().join("examples/django");
    let source = project.path().join("source");
    std::fs::remove_file(source.join("app.txt")).unwrap();
    copy_tree(&example.join("app"), &source);
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "the django example"]);
    copy_tree(&example.join("deployment"), &project.path().join("deployment"));

    let written = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    let ssh = &written[written.find("ssh:\n").unwrap()..written.find("environments:\n").unwrap()];
    let address = |host: usize| format!("\"{}\"", project.fleet.hosts[host].host_string(&project.fleet.user));
    let recipe = std::fs::read_to_string(example.join("fabulaws-config.yml")).unwrap();
    let config = recipe
        .replace("repo: git@github.com:example/myproject.git", &format!("repo: {}", source.display()))
        .replace("deploy_user: myproject", &format!("deploy_user: {}", project.fleet.user))
        .replace("\nenvironments:\n", &format!("\ndeploy_root: {}\n{ssh}environments:\n", deployer_fleet::DEPLOY_PATH))
        .replace("web1.testing.example.com", &address(0))
        .replace("web2.testing.example.com", &address(1))
        .replace("worker1.testing.example.com", &address(2))
        .replace("db1.testing.example.com", &address(2))
        .replace("cache1.testing.example.com", &address(2));
    std::fs::write(project.path().join("fabulaws-config.yml"), config).unwrap();
    let secrets = format!(
        "database_password = \"db-pass\"\nbroker_password = \"broker-pass\"\nsmtp_password = \"smtp-pass\"\ns3_secret = \"s3-pass\"\nsecret_key = \"{SECRET_KEY}\"\n"
    );
    std::fs::write(project.path().join("fabsecrets_testing.py"), secrets).unwrap();
    Some(project)
}

#[test]
fn the_django_recipe_deploys_a_real_app_that_answers_on_every_web_host() {
    let Some(project) = django_project() else { return };
    let _servers = AppServers(&project);
    let worker_address = project.fleet.hosts[2].address.to_string();

    let outcome = run_and_check(&project, &["create_environment", "testing"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(!outcome.stdout.contains(SECRET_KEY) && !outcome.stderr.contains(SECRET_KEY), "a secret was printed");
    let first = project.current(0).unwrap();
    for host in 0..2 {
        assert_eq!(project.current(host).as_deref(), Some(first.as_str()));
        let health = health(&project, host);
        assert_eq!(health["release"], first.as_str(), "host {host} serves the new release: {health}");
        assert_eq!(health["debug"], false, "the rendered settings are the ones loaded");
        assert_eq!(health["databases"], serde_json::json!(["default"]));
        assert_eq!(health["cache"], format!("{worker_address}:11211"));
        let (status, css) = get(&project, host, "/static/site.css");
        assert_eq!((status, css.trim()), (200, "body { font-family: sans-serif; }"), "collectstatic ran");
    }

    // FabulAWS's names, rendered with the secrets, only readable by the deploy user.
    let settings_path = project.host_file(0, &format!("testing/releases/{first}/myproject/local_settings.py"));
    let settings = std::fs::read_to_string(&settings_path).unwrap();
    let web0 = project.fleet.hosts[0].address.to_string();
    for expected in [
        format!("SECRET_KEY = \"{SECRET_KEY}\""),
        "\"default\": {".to_owned(),
        "\"NAME\": \"myproject_testing\"".to_owned(),
        "\"PORT\": \"5432\"".to_owned(),
        "\"USER\": \"dbuser\"".to_owned(),
        format!("stunnel carries pgbouncer's connection to {worker_address} on 7432"),
        "MASTER_DATABASE = \"default\"".to_owned(),
        format!("\"LOCATION\": \"{worker_address}:11211\""),
        "\"role\": \"web\"".to_owned(),
        "AWS_STORAGE_BUCKET_NAME = \"myproject-testing-static-files\"".to_owned(),
        format!("amqp://{}:broker-pass@{worker_address}:5672/myproject_testing", project.fleet.user),
        format!("ALLOWED_HOSTS = [\"{DOMAIN}\", \"{web0}\", ]"),
        "MEDIA_ROOT = \"/srv/deployer-fleet/testing/shared/uploaded_media\"".to_owned(),
        format!("STATIC_ROOT = \"/srv/deployer-fleet/testing/releases/{first}/static_media\""),
    ] {
        assert!(settings.contains(&expected), "missing {expected:?} in:\n{settings}");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&settings_path).unwrap().permissions().mode() & 0o777, 0o600);
    let worker_settings = project.host_file(2, &format!("testing/releases/{first}/myproject/local_settings.py"));
    assert!(std::fs::read_to_string(worker_settings).unwrap().contains("\"role\": \"worker\""));

    // The migration ran once, on the worker; the web hosts have no database.
    let database = |host: usize| project.host_file(host, "testing/shared/db/db.sqlite3");
    assert!(database(2).exists(), "the worker ran the migration");
    assert!(!database(0).exists() && !database(1).exists(), "web hosts did not migrate");

    // A second version, one host at a time: each web host serves it afterwards,
    // from a new process.
    let old_pid = std::fs::read_to_string(project.host_file(0, "testing/shared/run/web.pid")).unwrap();
    let source = project.path().join("source");
    std::fs::write(source.join("static/site.css"), "body { font-family: serif; }\n").unwrap();
    git(&source, &["commit", "-q", "-am", "serif"]);
    project.tick();
    let outcome = run_and_check(&project, &["deploy_serial", "testing", "--batch-size", "1"]);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let second = project.current(0).unwrap();
    assert_ne!(second, first);
    for host in 0..2 {
        assert_eq!(health(&project, host)["release"], second.as_str());
        assert_eq!(get(&project, host, "/static/site.css").1.trim(), "body { font-family: serif; }");
    }
    let new_pid = std::fs::read_to_string(project.host_file(0, "testing/shared/run/web.pid")).unwrap();
    assert_ne!(old_pid, new_pid, "the restart started a new process");

    // A version whose app answers its health check with an error: the deploy is
    // put back, and the previous release is restarted and serves again.
    let wsgi = std::fs::read_to_string(source.join("myproject/wsgi.py")).unwrap();
    let broken = wsgi.replace(
        "    if path == \"/health\":\n",
        "    if path == \"/health\":\n        raise RuntimeError(\"broken\")\n",
    );
    assert_ne!(broken, wsgi);
    std::fs::write(source.join("myproject/wsgi.py"), broken).unwrap();
    git(&source, &["commit", "-q", "-am", "broken health"]);
    project.tick();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 3, "a failed health check puts the fleet back:\n{}\n{}", outcome.stdout, outcome.stderr);
    for host in 0..2 {
        assert_eq!(project.current(host).as_deref(), Some(second.as_str()));
        assert_eq!(health(&project, host)["release"], second.as_str(), "host {host} serves the previous release");
    }
}
