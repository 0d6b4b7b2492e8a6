//! Hosts as separate network namespaces, so a test can break the network itself:
//! cut a host's link, drop its packets silently, or slow it down.
//!
//! Layout, for a fleet whose names start with `P`:
//!
//! ```text
//!   namespace Pc (the client: deployer runs here)      namespace Ph0 (host 0)
//!     h0  10.231.1.1/24  <──── veth pair ────>           eth0  10.231.1.2/24
//!     h1  10.231.2.1/24  <──── veth pair ────>         namespace Ph1: eth0 10.231.2.2/24
//!     ...
//! ```
//!
//! Nothing is created in the machine's own network namespace: no interface, no
//! address, no route. The client namespace has no default route and no link to
//! anything but its hosts, so whatever a fault does to a link, packets for the
//! fleet's 10.231/16 addresses can never fall through to a real network (this
//! workplace flags any private-range traffic that leaves the machine). Each fleet
//! has its own client namespace, so parallel fleets reuse the same addresses.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Every namespace a fleet makes is named `dplf<pid>x<sequence>...`.
const PREFIX: &str = "dplf";
/// The nftables table that drops a host's packets while it exists.
const DROP_TABLE: &str = "deployer_fault";

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

pub(crate) struct Namespaces {
    prefix: String,
    hosts: usize,
}

/// What the namespaced fleet needs beyond what every fleet needs.
pub(crate) fn unavailable() -> Option<String> {
    for (tool, package) in
        [("/usr/bin/nsenter", "util-linux"), ("/usr/sbin/nft", "nftables"), ("/usr/sbin/tc", "iproute2")]
    {
        if !std::path::Path::new(tool).exists() {
            return Some(format!("`{tool}` is missing (apt-get install {package})"));
        }
    }
    if ip(&["netns", "list"]).is_err() {
        return Some("`ip netns` does not work here (apt-get install iproute2)".to_owned());
    }
    None
}

/// The address host `index` listens on inside its namespace.
pub(crate) fn host_address(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 231, subnet(index), 2)
}

fn subnet(index: usize) -> u8 {
    u8::try_from(index + 1).expect("a fleet has at most 250 hosts")
}

impl Namespaces {
    /// Makes the client namespace and one namespace per host, linked by veth pairs.
    /// On failure, whatever was made is deleted again.
    pub(crate) fn create(hosts: usize) -> Result<Self, String> {
        remove_stale();
        let prefix = format!("{PREFIX}{}x{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed));
        let mut namespaces = Self { prefix, hosts: 0 };
        let made = namespaces.make(hosts);
        if made.is_err() {
            namespaces.delete();
        }
        made.map(|()| namespaces)
    }

    fn make(&mut self, hosts: usize) -> Result<(), String> {
        let client = self.client();
        ip(&["netns", "add", &client])?;
        ip(&["-n", &client, "link", "set", "lo", "up"])?;
        for index in 0..hosts {
            let host = self.host(index);
            ip(&["netns", "add", &host])?;
            self.hosts = index + 1;
            let near = format!("h{index}");
            let net = subnet(index);
            ip(&["-n", &client, "link", "add", &near, "type", "veth", "peer", "name", "eth0", "netns", &host])?;
            ip(&["-n", &client, "address", "add", &format!("10.231.{net}.1/24"), "dev", &near])?;
            ip(&["-n", &client, "link", "set", &near, "up"])?;
            ip(&["-n", &host, "address", "add", &format!("{}/24", host_address(index)), "dev", "eth0"])?;
            ip(&["-n", &host, "link", "set", "eth0", "up"])?;
            ip(&["-n", &host, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    pub(crate) fn client(&self) -> String {
        format!("{}c", self.prefix)
    }

    pub(crate) fn host(&self, index: usize) -> String {
        format!("{}h{index}", self.prefix)
    }

    /// `nsenter --net=... --`: what runs a program inside a namespace.
    pub(crate) fn enter(namespace: &str) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--net=/run/netns/{namespace}")).arg("--");
        command
    }

    /// Takes host `index`'s link down (`cut`) or up again. Its address stays, so
    /// bringing the link up restores the route.
    pub(crate) fn cut_link(&self, index: usize, cut: bool) -> Result<(), String> {
        ip(&["-n", &self.host(index), "link", "set", "eth0", if cut { "down" } else { "up" }])?;
        if !cut {
            // While the link was down the client learnt the host's address as
            // unresolvable, and would say "no route to host" for seconds more;
            // forget that, so a restored link carries packets at once.
            ip(&["-n", &self.client(), "neigh", "flush", "dev", &format!("h{index}")])?;
        }
        Ok(())
    }

    /// Drops every packet host `index` sends or receives (`drop`), silently, with an
    /// nftables table in its namespace; removing the table lets them through again.
    pub(crate) fn drop_packets(&self, index: usize, drop: bool) -> Result<(), String> {
        let rules = if drop {
            format!(
                "table inet {DROP_TABLE} {{\n\
                 \x20 chain input {{ type filter hook input priority 0; policy drop; }}\n\
                 \x20 chain output {{ type filter hook output priority 0; policy drop; }}\n\
                 }}\n"
            )
        } else {
            format!("delete table inet {DROP_TABLE}\n")
        };
        let mut command = Self::enter(&self.host(index));
        command.args(["nft", "-f", "-"]);
        run_with_input(command, &rules)
    }

    /// Limits host `index`'s link to `kbit` kilobits per second in both directions
    /// with a token bucket (`tbf`; this kernel has no `netem`), or lifts the limit.
    pub(crate) fn slow_link(&self, index: usize, kbit: Option<u32>) -> Result<(), String> {
        let rate = kbit.map(|kbit| format!("{kbit}kbit"));
        for (namespace, device) in [(self.host(index), "eth0".to_owned()), (self.client(), format!("h{index}"))] {
            match &rate {
                Some(rate) => {
                    let qdisc = ["tbf", "rate", rate, "burst", "16kb", "latency", "2s"];
                    let args =
                        [["-n", &namespace, "qdisc", "replace", "dev", &device, "root"].as_slice(), &qdisc].concat();
                    tool("tc", &args)?;
                }
                None => tool("tc", &["-n", &namespace, "qdisc", "del", "dev", &device, "root"])?,
            }
        }
        Ok(())
    }

    /// Deletes every namespace, which also removes the veth pairs.
    pub(crate) fn delete(&self) {
        remove_named(&self.names());
    }

    /// Names for [`remove_named`], kept for a fleet that outlives its process.
    pub(crate) fn names(&self) -> Vec<String> {
        (0..self.hosts).map(|index| self.host(index)).chain([self.client()]).collect()
    }
}

/// Deletes named namespaces (a kept fleet's, on `deployer-fleet down`).
pub(crate) fn remove_named(names: &[String]) {
    for name in names {
        let _ = ip(&["netns", "delete", name]);
    }
}

/// Removes namespaces left by fleets whose process died without cleaning up
/// (killed tests): the creator is gone and nothing runs inside any more. A fleet
/// kept on purpose (`deployer-fleet up`) still has its sshd inside, so it stays.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|rest| rest.split('x').next()) else { continue };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let busy = Command::new("ip")
            .args(["netns", "pids", &name])
            .output()
            .is_ok_and(|output| !String::from_utf8_lossy(&output.stdout).trim().is_empty());
        if !busy {
            let _ = ip(&["netns", "delete", &name]);
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    tool("ip", args)
}

fn tool(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn run_with_input(mut command: Command, input: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    child.stdin.take().expect("piped").write_all(input.as_bytes()).map_err(|error| error.to_string())?;
    let output = child.wait_with_output().map_err(|error| error.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}
