//! `notify:` against a small HTTP server on loopback: the webhook's JSON and
//! signature and the Slack text for a deploy that succeeds and one that is
//! switched back; an endpoint that is not there costs a warning, not the exit
//! code; no secret appears in what deployer says or writes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::support::project::{project_with, run_and_check, walk};

/// One request the server received: its path, the signature header and the body.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    signature: Option<String>,
    authorization: Option<String>,
    raw: Vec<u8>,
    body: serde_json::Value,
}

/// Accepts requests on 127.0.0.1 until the test ends; answers 200 to each.
fn serve() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
            let (mut length, mut signature, mut authorization) = (0, None, None);
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap(),
                    "x-deployer-signature-256" => signature = Some(value.trim().to_owned()),
                    "authorization" => authorization = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let raw = body.clone();
            let body = serde_json::from_slice(&body).unwrap();
            // GitHub answers a new deployment with its id.
            let answer = if path.ends_with("/deployments") { "{\"id\": 7}" } else { "" };
            log.lock().unwrap().push(Received { path, signature, authorization, raw, body });
            let response = format!(
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (address, received)
}

/// One line per request, in the order they came: what each target was told.
fn transcript(requests: &[Received]) -> String {
    let mut lines = Vec::new();
    for request in requests {
        let body = &request.body;
        let line = if request.path == "/hook" {
            format!(
                "webhook {} result={} release={} commit={} hosts={} failed={}",
                body["event"].as_str().unwrap_or_default(),
                body["result"],
                body["release"].as_str().unwrap_or_default(),
                body["commit"].as_str().unwrap_or_default(),
                body["hosts"].as_array().map_or(0, Vec::len),
                body["failed_hosts"].as_array().map_or(0, Vec::len),
            )
        } else if request.path.starts_with("/slack/") {
            format!("slack {}", body["text"].as_str().unwrap_or_default())
        } else if request.path.ends_with("/deployments") {
            format!(
                "github {} ref={} environment={}",
                request.path,
                body["ref"].as_str().unwrap_or_default(),
                body["environment"].as_str().unwrap_or_default()
            )
        } else {
            format!("github {} state={}", request.path, body["state"].as_str().unwrap_or_default())
        };
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

const HMAC_KEY: &str = "hmac-key-9d1e-never-print";
const GITHUB_TOKEN: &str = "ghp_token-77aa-never-print";

#[test]
fn webhook_and_slack_hear_each_deploy_and_an_absent_endpoint_changes_nothing() {
    let (address, received) = serve();
    let roles = "  web:\n    build: \"test ! -e /srv/deployer-fleet/fail-build\"\n    restart: \"true\"\n    healthcheck: \"test ! -e /srv/deployer-fleet/fail-health\"\n";
    let extra = format!(
        "notify:\n  timeout: 2\n  attempts: 2\n  webhook:\n    url: {address}/hook\n    secret: webhook_key\n  slack:\n    url_secret: slack_url\n  \
         github:\n    repository: acme/shop\n    token_secret: github_token\n    api_url: {address}\n"
    );
    let Some(project) = project_with(2, roles, &extra) else { return };
    let slack_url = format!("{address}/slack/T000/B000/secret-path-never-print");
    std::fs::write(
        project.path().join("fabsecrets_testing.py"),
        format!("webhook_key = \"{HMAC_KEY}\"\nslack_url = \"{slack_url}\"\ngithub_token = \"{GITHUB_TOKEN}\"\n"),
    )
    .unwrap();

    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(0).unwrap();
    project.next_version("v2\n");
    std::fs::write(project.host_file(1, "fail-health"), "").unwrap();
    let failed = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(failed.code, 3, "{}", failed.stderr);

    let requests = received.lock().unwrap().clone();
    let summary: Vec<(String, String)> = requests
        .iter()
        .filter(|request| !request.path.starts_with("/repos/"))
        .map(|request| {
            let what = if request.path == "/hook" {
                format!("{} {}", request.body["event"].as_str().unwrap(), request.body["result"])
            } else {
                request.body["text"].as_str().unwrap().to_owned()
            };
            (request.path.split('/').nth(1).unwrap().to_owned(), what)
        })
        .collect();
    let kinds: Vec<(&str, &str)> = summary.iter().map(|(path, what)| (path.as_str(), what.as_str())).collect();
    assert_eq!(kinds.len(), 8, "{kinds:#?}");
    assert_eq!(kinds[0], ("hook", "started null"));
    assert!(kinds[1].0 == "slack" && kinds[1].1.contains("started the `deploy_full` of demo testing"), "{kinds:#?}");
    assert_eq!(kinds[2], ("hook", "finished \"succeeded\""));
    assert!(kinds[3].1.ends_with("succeeded") || kinds[3].1.contains(" succeeded in "), "{kinds:#?}");
    assert_eq!(kinds[6], ("hook", "finished \"rolled_back\""));
    assert!(kinds[7].1.contains("failed and was switched back") && kinds[7].1.contains("failed on"), "{kinds:#?}");

    // Every webhook body is signed with the key; the payload names the release.
    for request in requests.iter().filter(|request| request.path == "/hook") {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(HMAC_KEY.as_bytes()).unwrap();
        mac.update(&request.raw);
        let expected: String = mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(
            request.signature.as_deref(),
            Some(format!("sha256={expected}").as_str()),
            "the body as sent is signed"
        );
        assert_eq!(request.body["version"], 1);
    }
    let hooks: Vec<&Received> = requests.iter().filter(|request| request.path == "/hook").collect();
    assert_eq!(hooks[1].body["release"], release.as_str());
    assert_eq!(hooks[1].body["hosts"].as_array().unwrap().len(), 2);

    // GitHub Deployments: a deployment of the commit per run, then its states.
    let github: Vec<(&str, String)> = requests
        .iter()
        .filter(|request| request.path.starts_with("/repos/acme/shop/"))
        .map(|request| {
            assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {GITHUB_TOKEN}").as_str()));
            let what = if request.path.ends_with("/deployments") {
                format!("create {} {}", request.body["environment"], request.body["ref"].as_str().unwrap().len())
            } else {
                request.body["state"].as_str().unwrap().to_owned()
            };
            (request.path.as_str(), what)
        })
        .collect();
    let states: Vec<&str> = github.iter().map(|(_, what)| what.as_str()).collect();
    assert_eq!(
        states,
        ["create \"testing\" 40", "in_progress", "success", "create \"testing\" 40", "in_progress", "inactive"],
        "{github:#?}"
    );
    assert!(github[1].0.ends_with("/deployments/7/statuses"), "{github:#?}");

    // An endpoint that is not there: a warning, the same exit code, bounded time.
    std::fs::remove_file(project.host_file(1, "fail-health")).unwrap();
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    std::fs::write(
        project.path().join("fabulaws-config.yml"),
        config.replace(&format!("{address}/hook"), "http://127.0.0.1:1/hook"),
    )
    .unwrap();
    project.next_version("v3\n");
    let started = std::time::Instant::now();
    let unreachable = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(unreachable.code, 0, "{}", unreachable.stderr);
    assert!(unreachable.stderr.contains("could not notify the webhook of the run started"), "{}", unreachable.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());

    // A deploy that fails before its switch: GitHub hears `failure`.
    project.next_version("v4\n");
    std::fs::write(project.host_file(0, "fail-build"), "").unwrap();
    let prepare_failed = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(prepare_failed.code, 1, "{}", prepare_failed.stderr);
    std::fs::remove_file(project.host_file(0, "fail-build")).unwrap();

    // A rollback puts the first release back: GitHub gets a successful deployment
    // of its commit (which marks the rolled-away one inactive).
    let before = received.lock().unwrap().len();
    let rollback = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(rollback.code, 0, "{}", rollback.stderr);
    assert_eq!(project.current(0).unwrap(), release);
    let first_commit = requests[0].body["commit"].as_str().unwrap().to_owned();
    let after: Vec<Received> = received.lock().unwrap()[before..].to_vec();
    let github: Vec<String> = after
        .iter()
        .filter(|request| request.path.starts_with("/repos/"))
        .map(|request| match request.body["state"].as_str() {
            Some(state) => format!("state {state}"),
            None => format!("create {}", request.body["ref"].as_str().unwrap_or_default()),
        })
        .collect();
    assert_eq!(github, [format!("create {first_commit}"), "state success".to_owned()]);

    // No secret anywhere deployer writes or says.
    let mut seen = format!(
        "{}{}{}{}{}{}{}{}",
        outcome.stdout,
        outcome.stderr,
        failed.stdout,
        failed.stderr,
        unreachable.stdout,
        unreachable.stderr,
        rollback.stdout,
        rollback.stderr
    );
    for file in walk(&project.path().join(".deployer")) {
        seen.push_str(&std::fs::read_to_string(file).unwrap_or_default());
    }
    for request in received.lock().unwrap().iter() {
        seen.push_str(&request.body.to_string());
    }
    // The whole sequence, every target, every run, as one reviewed transcript:
    // a success, a switch back, a run whose webhook is gone, a failed prepare,
    // a rollback.
    insta::with_settings!({filters => vec![
        (r"[0-9a-f]{40}", "[commit]"),
        (r"\d{8}T\d{6}Z-[0-9a-f]{7,16}", "[id]"),
        (r"dplfleet@127\.\d+\.\d+\.\d+:\d+", "[host]"),
        (r"\b[0-9a-f]{7}\b", "[short]"),
        (r"in \d+\.\d s", "in [duration]"),
        (r"deployer: (uid \d+|\S+) started", "deployer: [user] started"),
        (r"by (uid \d+|\S+) (succeeded|failed)", "by [user] $2"),
        (r"deployments/\d+/", "deployments/[n]/"),
    ]}, {
        insta::assert_snapshot!("notify_sequence", transcript(&received.lock().unwrap()));
    });

    seen.push_str(&prepare_failed.stdout);
    seen.push_str(&prepare_failed.stderr);
    for secret in [HMAC_KEY, "secret-path-never-print", GITHUB_TOKEN] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
}
