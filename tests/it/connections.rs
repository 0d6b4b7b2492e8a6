//! Connecting at scale, on real sshd hosts: handshakes a loaded sshd drops
//! (`MaxStartups`) are tried again, and `ssh.max_connections` bounds the
//! connections a deploy holds open.

use std::time::Duration;

use crate::support::invariants::{Expect, check_fleet};
use crate::support::most_while;
use crate::support::project::{Project, project, run_and_check};

/// The logins sshd of fleet host `host` accepted.
fn logins(project: &Project, host: usize) -> usize {
    sshd_log(project, host).lines().filter(|line| line.contains("Accepted publickey")).count()
}

/// sshd's log of fleet host `host`.
fn sshd_log(project: &Project, host: usize) -> String {
    let directory = project.fleet.hosts[host].files.parent().unwrap().to_owned();
    std::fs::read_to_string(directory.join("sshd.log")).unwrap_or_default()
}

#[test]
fn a_host_dropping_handshakes_is_reached_by_twenty_concurrent_connects() {
    let Some(project) = project(1, "  connect_concurrency: 20\n") else { return };
    // One sshd that lets at most 3 unauthenticated connections in and drops the
    // rest, named 20 times: 20 hosts to deployer (`--no-dedupe`), connecting at once.
    project.fleet.reconfigure_host(0, "MaxStartups 3:100:3\n", &[]).unwrap();
    let hosts = vec![project.fleet.hosts[0].host_string(&project.fleet.user); 20].join(",");
    let outcome = run_and_check(&project, &["--no-dedupe", "-H", &hosts, "run", "testing", "--", "true"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let log = sshd_log(&project, 0);
    let dropped = log.lines().filter(|line| line.contains("past MaxStartups")).count();
    assert!(dropped > 0, "sshd dropped no handshake, so nothing was tested:\n{log}");
    assert!(
        outcome.stderr.contains("dropped") && outcome.stderr.contains("MaxStartups"),
        "the run does not say why connecting took longer:\n{}",
        outcome.stderr
    );
    assert_eq!(logins(&project, 0), 20, "{log}");
}

/// The established TCP connections in `/proc/net/tcp` whose local end `matches`,
/// each counted once. The kernel lists the table in chunks, and a connection that
/// closes between two chunks can make another one be listed twice: connections
/// are told apart by both their ends.
fn established(matches: impl Fn(std::net::Ipv4Addr, &str) -> bool) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let connections: std::collections::BTreeSet<(String, String)> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote) = (*fields.get(1)?, *fields.get(2)?);
            let (address, port) = local.split_once(':')?;
            // The kernel prints the address as the in-memory (network order) u32.
            let address = std::net::Ipv4Addr::from(u32::from_str_radix(address, 16).ok()?.to_ne_bytes());
            (fields.get(3) == Some(&"01") && matches(address, port)).then(|| (local.to_owned(), remote.to_owned()))
        })
        .collect();
    connections.len()
}

/// Established TCP connections to port 2222 on the addresses of `network` (a /24).
fn established_to(network: [u8; 3]) -> usize {
    established(|address, port| port == "08AE" && address.octets()[..3] == network)
}

#[test]
fn max_connections_bounds_the_connections_a_deploy_holds() {
    let Some(project) = project(8, "  max_connections: 3\n") else { return };
    let [a, b, c, _] = project.fleet.hosts[0].address.octets();
    let (outcome, peak) = most_while(
        Duration::from_millis(2),
        || established_to([a, b, c]),
        || run_and_check(&project, &["deploy_full", "testing"]),
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(0).unwrap();
    check_fleet(&project, 8, &outcome, &Expect::all_on(&release));
    assert!((1..=3).contains(&peak), "{peak} connections open at once");
    // Hosts beyond the budget connected again for the phases they worked in.
    let accepted: usize = (0..8).map(|host| logins(&project, host)).sum();
    assert!(accepted > 8, "{accepted} connections for 8 hosts: nothing was closed to stay within the budget");
}

#[test]
fn a_bastion_sees_one_connection_for_a_deploy_to_fifty_hosts_behind_it() {
    // Host 0 is the bastion; hosts 1 to 50 are the fleet behind it.
    let Some(project) = project(51, "") else { return };
    let bastion = project.fleet.hosts[0].address;
    let targets: Vec<String> =
        project.fleet.hosts[1..].iter().map(|host| host.host_string(&project.fleet.user)).collect();
    let gateway = project.fleet.hosts[0].host_string(&project.fleet.user);
    let (outcome, peak) = most_while(
        Duration::from_millis(5),
        || established_to_address(bastion),
        || run_and_check(&project, &["--gateway", &gateway, "-H", &targets.join(","), "deploy_full", "testing"]),
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(1).unwrap();
    for host in 1..=50 {
        assert_eq!(project.current(host).as_deref(), Some(release.as_str()), "host {host}");
    }
    assert_eq!(project.current(0), None, "the bastion itself is not deployed to");
    let seen = logins(&project, 0);
    assert_eq!(seen, 1, "the bastion saw {seen} logins:\n{}", sshd_log(&project, 0));
    assert_eq!(peak, 1, "connections to the bastion at once");
}

/// Established TCP connections to port 2222 on `address`.
fn established_to_address(wanted: std::net::Ipv4Addr) -> usize {
    established(|address, port| port == "08AE" && address == wanted)
}

#[test]
fn key_exchange_curve25519_offers_only_curve25519() {
    let Some(project) = project(2, "  key_exchange: curve25519\n") else { return };
    // Host 0 accepts only the post-quantum hybrid; host 1 only curve25519.
    project.fleet.reconfigure_host(0, "KexAlgorithms sntrup761x25519-sha512@openssh.com\n", &[]).unwrap();
    project.fleet.reconfigure_host(1, "KexAlgorithms curve25519-sha256\n", &[]).unwrap();
    let only = |host: usize| project.fleet.hosts[host].host_string(&project.fleet.user);
    let outcome = run_and_check(&project, &["-H", &only(1), "run", "testing", "--", "true"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let outcome = run_and_check(&project, &["-H", &only(0), "run", "testing", "--", "true"]);
    assert_ne!(outcome.code, 0, "{}", outcome.stderr);
    // sshd says what deployer offered: curve25519 and nothing else.
    let log = sshd_log(&project, 0);
    assert!(log.contains("no matching key exchange method found"), "{log}");
    let offer = log.lines().find_map(|line| line.split_once("Their offer: ")).map(|(_, offer)| offer).unwrap_or("");
    // Past the real methods, the client lists protocol extensions (`ext-info-c`,
    // `kex-strict-c-v00@openssh.com`), which vary by OpenSSH version.
    let methods: Vec<&str> = offer
        .split_whitespace()
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|method| !method.starts_with("ext-info-") && !method.starts_with("kex-strict-"))
        .collect();
    assert_eq!(methods, ["curve25519-sha256", "curve25519-sha256@libssh.org"], "{log}");
}

/// ssh masters serving the kept connections under `runtime`.
fn kept_masters(runtime: &std::path::Path) -> Vec<String> {
    let pattern = format!("{}/deployer/p/", runtime.display());
    let listed = std::process::Command::new("pgrep").args(["-af", &pattern]).output().unwrap();
    String::from_utf8_lossy(&listed.stdout).lines().filter(|line| line.contains("ssh")).map(str::to_owned).collect()
}

#[test]
fn kept_masters_spare_the_next_run_its_handshakes_until_disconnect() {
    let Some(project) = project(2, "  control_persist: 120\n") else { return };
    // A runtime directory of the test's own, so no other test's run sees these masters.
    let runtime = tempfile::Builder::new().prefix("dx").tempdir_in("/tmp").unwrap();
    let deployer = |args: &[&str]| {
        let mut command = project.deployer();
        command.env("XDG_RUNTIME_DIR", runtime.path()).args(args);
        crate::support::run(&mut assert_cmd::Command::from_std(command))
    };
    assert_eq!(deployer(&["status", "testing"]).code, 0);
    assert_eq!(kept_masters(runtime.path()).len(), 2, "{:?}", kept_masters(runtime.path()));
    let outcome = deployer(&["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    for host in 0..2 {
        assert_eq!(logins(&project, host), 1, "host {host}: the deploy logged in again");
    }
    let closed = deployer(&["disconnect"]);
    assert_eq!(closed.stdout, "closed 2 kept connections\n", "{}", closed.stderr);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !kept_masters(runtime.path()).is_empty() {
        assert!(std::time::Instant::now() < deadline, "masters left: {:?}", kept_masters(runtime.path()));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!runtime.path().join("deployer/p").exists(), "the directory of kept masters is removed");
    // Only now: a kept master's session on the host is a process of the deploy user.
    let release = project.current(0).unwrap();
    check_fleet(&project, 2, &outcome, &Expect::all_on(&release));
    project.tick();
    assert_eq!(deployer(&["deploy_full", "testing"]).code, 0);
    assert_eq!(logins(&project, 0), 2, "after disconnect, the next run logs in again");
    // A kept master that died (its socket left behind) is replaced, not trusted.
    let address = project.fleet.hosts[0].address.to_string();
    let master =
        kept_masters(runtime.path()).into_iter().find(|line| line.ends_with(&address)).expect("host 0's master");
    let pid = master.split_whitespace().next().unwrap().to_owned();
    assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    project.tick();
    let outcome = deployer(&["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!((logins(&project, 0), logins(&project, 1)), (3, 2), "only the dead master's host logs in again");
    assert_eq!(deployer(&["disconnect"]).stdout, "closed 2 kept connections\n");
}

/// The start of a step's script that looks at the other shells of its own ssh
/// connection: `$phase` is the phase's shell, the ancestor whose parent
/// (`$parent`) is the connection's sshd.
const FIND_PHASE_SHELL: &str = r#"phase=$$
while :; do
    parent=$(ps -o ppid= -p "$phase" | tr -d ' ')
    case $(ps -o comm= -p "$parent") in sshd*) break ;; esac
    phase=$parent
done
"#;

/// Writes `script`, after [`FIND_PHASE_SHELL`], to `name` in host 0's files.
fn write_phase_script(project: &Project, name: &str, script: &str) {
    std::fs::write(project.fleet.hosts[0].files.join(name), format!("{FIND_PHASE_SHELL}{script}")).unwrap();
}

/// A restart that kills the other shells of its own ssh connection: the shell
/// waiting for the next phase (`deployer-ssh`'s `standby.rs`). It waits for that
/// shell to exist, and records that it killed one.
const KILL_WAITING_SHELL: &str = r#"tries=0
until others=$(pgrep -P "$parent" | grep -vx "$phase"); do
    tries=$((tries + 1))
    [ "$tries" -lt 200 ] || exit 1
    sleep 0.05
done
# sshd starts each session in a process group of its own.
for other in $others; do kill -KILL -"$other"; done
echo "$others" >/srv/deployer-fleet/killed-waiting-shell
"#;

#[test]
fn a_waiting_shell_that_died_is_replaced_not_written_to() {
    let roles =
        "  web:\n    restart: \"sh /srv/deployer-fleet/kill-waiting-shell.sh\"\n    healthcheck: test -f app.txt\n";
    let Some(project) = crate::support::project::project_with(1, roles, "") else { return };
    write_phase_script(&project, "kill-waiting-shell.sh", KILL_WAITING_SHELL);
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "the phase after the restart ran in a new shell:\n{}", outcome.stderr);
    assert!(
        project.fleet.hosts[0].files.join("killed-waiting-shell").exists(),
        "the restart found no waiting shell to kill: {}",
        outcome.stderr
    );
    let release = project.current(0).unwrap();
    check_fleet(&project, 1, &outcome, &Expect::all_on(&release));
}

/// A migration that counts the shells of its own ssh connection waiting beside
/// it (for up to 5 s, until there are two) and records how many it saw.
const COUNT_WAITING_SHELLS: &str = r#"tries=0
while :; do
    waiting=$(pgrep -P "$parent" | grep -cvx "$phase")
    [ "$waiting" -lt 2 ] && [ "$tries" -lt 100 ] || break
    tries=$((tries + 1))
    sleep 0.05
done
echo "$waiting" >/srv/deployer-fleet/waiting-shells
"#;

/// A shell is ready two round trips after it is asked for, so the migration's
/// short phase would leave the switch waiting for its shell: while the
/// migration runs, the shells of both phases after it (switch, finish) wait.
#[test]
fn a_migrating_host_keeps_the_shells_of_its_next_two_phases_waiting() {
    let extra = "migrate:\n  role: web\n  command: \"sh /srv/deployer-fleet/count-waiting-shells.sh\"\n";
    let Some(project) = project(1, extra) else { return };
    write_phase_script(&project, "count-waiting-shells.sh", COUNT_WAITING_SHELLS);
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let waiting = std::fs::read_to_string(project.fleet.hosts[0].files.join("waiting-shells")).unwrap();
    assert_eq!(waiting.trim(), "2", "shells waiting beside the migration");
}
