//! The README's quick start: `scripts/demo` deploys, redeploys and rolls back the
//! sample app on this machine, with no servers.

use deployer_plan::protocol::history::{self, EventKind};
use std::process::Command;

#[test]
fn the_quick_start_demo_runs() {
    let directory = tempfile::tempdir().unwrap();
    let demo = directory.path().join("demo");
    let output = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo"))
        .env("DEPLOYER_BIN", env!("CARGO_BIN_EXE_deployer"))
        .env("DEMO_DIR", &demo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scripts/demo failed:\n{stdout}\n{stderr}");
    // After the rollback, version 1 is live again.
    let page = std::fs::read_to_string(demo.join("hosts/testing/current/public/index.html")).unwrap();
    assert!(page.contains("version 1"), "{page}");
    let history = std::fs::read_to_string(demo.join("hosts/testing/.deployer/history")).unwrap();
    let (entries, unreadable) = history::parse_all(history.lines());
    assert_eq!(unreadable, 0, "{history}");
    let count = |event| entries.iter().filter(|entry| entry.event == event).count();
    assert_eq!(count(EventKind::Deployed), 2, "{history}");
    assert_eq!(count(EventKind::RolledBack), 1, "{history}");
    let migrations = std::fs::read_to_string(demo.join("hosts/testing/migrations.log")).unwrap();
    assert_eq!(migrations.lines().count(), 2, "migrate ran once per deploy");
    assert!(!stdout.contains("demo-secret-not-for-production") && !stderr.contains("demo-secret-not-for-production"));
    let env_file = std::fs::read_to_string(demo.join("hosts/testing/current/app.env")).unwrap();
    assert!(env_file.contains("SECRET_KEY=demo-secret-not-for-production"), "the secret reached its file");
}
