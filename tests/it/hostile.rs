//! Hostile output from a host: terminal escape sequences, invalid UTF-8 and
//! 100 MB of output (a 64 MB line, then 40,000 lines of 1 KB), from this machine
//! and over real ssh. deployer must neither pass control sequences to the
//! terminal nor hold the output in memory.

use std::process::Command;

fn project() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let config = format!(
        "project: demo\nrepo: /nonexistent.git\ndeploy_root: {}/hosts\nvalid_roles: [web]\nenvironments:\n  testing:\n    branch: main\n    connection: local\n    roles:\n      web: [localhost]\n",
        directory.path().display()
    );
    std::fs::write(directory.path().join("fabulaws-config.yml"), config).unwrap();
    directory
}

const HOSTILE: &str = "printf '\\033[2J\\033]0;owned\\007visible\\n'; printf '\\377\\376bytes\\n'; \
    head -c 67108864 /dev/zero | tr '\\0' x; echo; \
    i=0; line=$(head -c 1023 /dev/zero | tr '\\0' y); while [ $i -lt 40000 ]; do echo \"$line\"; i=$((i+1)); done; \
    echo after; exit 3";

/// `deployer`, under `/usr/bin/time` when it is installed, so its peak memory shows.
fn measured(wrap: impl Fn(&'static str) -> Command) -> Command {
    let time = "/usr/bin/time";
    if std::path::Path::new(time).exists() {
        let mut command = wrap(time);
        command.args(["-f", "peak-rss-kb=%M"]).arg(env!("CARGO_BIN_EXE_deployer"));
        command
    } else {
        crate::support::project::skip("the memory check needs /usr/bin/time");
        wrap(env!("CARGO_BIN_EXE_deployer"))
    }
}

#[test]
fn hostile_output_is_escaped_capped_and_not_kept_in_memory() {
    let directory = project();
    let output = measured(Command::new)
        .current_dir(directory.path())
        .env("NO_COLOR", "1")
        .args(["run", "testing", "--", HOSTILE])
        .output()
        .unwrap();
    let logs = directory.path().join(".deployer/logs");
    check_hostile_run(&output, &logs);

    let output = Command::new(env!("CARGO_BIN_EXE_deployer"))
        .current_dir(directory.path())
        .args(["--json", "run", "testing", "--", HOSTILE])
        .output()
        .unwrap();
    assert!(!output.stdout.contains(&0x1b), "JSON events carry escapes as JSON escapes");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line:.200}"));
    }
}

#[test]
fn hostile_output_over_ssh_is_escaped_capped_and_not_kept_in_memory() {
    let Some(project) = crate::support::project::project(1, "") else { return };
    let output = measured(|program| {
        let mut command = project.fleet.command(program);
        command.current_dir(project.path()).env("HOME", project.path()).env("NO_COLOR", "1");
        command
    })
    .args(["run", "testing", "--", HOSTILE])
    .output()
    .unwrap();
    check_hostile_run(&output, &project.path().join(".deployer/logs"));
}

fn check_hostile_run(output: &std::process::Output, logs: &std::path::Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        !output.stderr.contains(&0x1b) && !output.stdout.contains(&0x1b),
        "an escape character reached the terminal"
    );
    assert!(stderr.contains("after"), "output after the long line is kept");
    assert!(stderr.len() < 1_000_000, "deployer's own messages do not repeat the 100 MB ({} bytes)", stderr.len());
    // `run` shows the host's output, line by line, each line cut to a bounded length.
    let longest = stdout.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 20 * 1024, "a line of {longest} bytes reached the terminal");
    assert!(stdout.contains("] out: "), "run shows the host's output");
    if let Some(peak) = stderr.lines().find_map(|line| line.strip_prefix("peak-rss-kb=")) {
        let peak: u64 = peak.trim().parse().unwrap();
        eprintln!("peak memory while a host printed 100 MB: {peak} KB");
        assert!(peak < 64 * 1024, "peak memory {peak} KB: the output was held in memory");
    }
    let run = std::fs::read_dir(logs).unwrap().next().unwrap().unwrap().path();
    let log = std::fs::read(std::fs::read_dir(run).unwrap().next().unwrap().unwrap().path()).unwrap();
    assert!(!log.contains(&0x1b), "logs hold escaped text");
    // 100 MB arrived; the log keeps the first 20 MB, each line cut to a bounded length.
    assert!(log.len() < 21 * 1024 * 1024, "the log is capped ({} bytes)", log.len());
    assert!(String::from_utf8_lossy(&log).contains("[line cut]"));
    assert!(String::from_utf8_lossy(&log).contains("[log cut at"));
    assert!(String::from_utf8_lossy(&log).contains("\\u{1b}[2J"), "the escape is logged, escaped");
}
