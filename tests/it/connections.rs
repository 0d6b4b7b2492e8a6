//! Connecting at scale, on real sshd hosts: handshakes a loaded sshd drops
//! (`MaxStartups`) are tried again, and `ssh.max_connections` bounds the
//! connections a deploy holds open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{Project, project, run_and_check};

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
    let accepted = log.lines().filter(|line| line.contains("Accepted publickey")).count();
    assert_eq!(accepted, 20, "{log}");
}

/// Established TCP connections to port 2222 on the addresses of `network` (a /24).
fn established_to(network: [u8; 3]) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some((address, port)) = fields.get(1).and_then(|local| local.split_once(':')) else { return false };
            // The kernel prints the address as the in-memory (network order) u32.
            let Ok(address) = u32::from_str_radix(address, 16) else { return false };
            let octets = address.to_ne_bytes();
            fields.get(3) == Some(&"01") && port == "08AE" && octets[..3] == network
        })
        .count()
}

#[test]
fn max_connections_bounds_the_connections_a_deploy_holds() {
    let Some(project) = project(8, "  max_connections: 3\n") else { return };
    let [a, b, c, _] = project.fleet.hosts[0].address.octets();
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(established_to([a, b, c]), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    done.store(true, Ordering::SeqCst);
    poller.join().unwrap();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(0).unwrap();
    check_fleet(&project, 8, &outcome, &Expect::all_on(&release));
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=3).contains(&peak), "{peak} connections open at once");
    // Hosts beyond the budget connected again for the phases they worked in.
    let accepted: usize = (0..8)
        .map(|host| sshd_log(&project, host).lines().filter(|line| line.contains("Accepted publickey")).count())
        .sum();
    assert!(accepted > 8, "{accepted} connections for 8 hosts: nothing was closed to stay within the budget");
}
