//! The faults a test can inject into a running fleet: stopped, frozen or killed
//! hosts, read-only disks, changed host keys, and on namespaced fleets cut links,
//! dropped packets and slow links.

use std::net::Ipv4Addr;
use std::process::Command;

use std::time::{Duration, Instant};

use crate::{DEPLOY_PATH, Fleet, PORT, keygen, listening, namespaces};

impl Fleet {
    /// Stops one host (its sshd and everything it runs), to make it unreachable.
    pub fn stop_host(&mut self, index: usize) {
        self.signal_host(index, "CONT");
        if let Some(mut child) = self.hosts[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) one host: its sshd and every process
    /// it started, so it holds connections open but answers nothing.
    pub fn signal_host(&self, index: usize, signal: &str) {
        for pid in self.family(index) {
            // A session may end between listing and signalling: not worth a line.
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }

    /// What runs on host `index` besides its listening sshd: sessions and the
    /// commands they run, one `pid command line` each.
    pub fn host_processes(&self, index: usize) -> Vec<String> {
        let root = self.hosts[index].pid();
        self.family(index)
            .into_iter()
            .filter(|pid| Some(*pid) != root)
            .filter_map(|pid| {
                let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let command = String::from_utf8_lossy(&command).replace('\0', " ");
                Some(format!("{pid} {}", command.trim()))
            })
            .collect()
    }

    /// A host's sshd and all its descendants.
    fn family(&self, index: usize) -> Vec<u32> {
        let Some(root) = self.hosts[index].pid() else { return Vec::new() };
        let mut family = vec![root];
        let mut added = true;
        while added {
            added = false;
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
                let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
                let parent = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|ppid| ppid.parse::<u32>().ok());
                if parent.is_some_and(|parent| family.contains(&parent)) && !family.contains(&pid) {
                    family.push(pid);
                    added = true;
                }
            }
        }
        family
    }

    /// Remounts a host's files read-only (`true`) or read-write, inside its own
    /// mount namespace.
    pub fn set_read_only(&self, index: usize, read_only: bool) -> Result<(), String> {
        let pid = self.hosts[index].pid().ok_or("the host is stopped")?;
        let mode = if read_only { "remount,bind,ro" } else { "remount,bind,rw" };
        let status = Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-m", "--", "mount", "-o", mode, DEPLOY_PATH])
            .status()
            .map_err(|error| error.to_string())?;
        if status.success() { Ok(()) } else { Err(format!("cannot remount host {index}")) }
    }

    /// Gives a running host a new host key (as after a reinstall, or an attack):
    /// the new key is written and sshd re-reads it on SIGHUP.
    pub fn change_host_key(&self, index: usize) -> Result<(), String> {
        let key = self.host_dir(index).join("host_key");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(key.with_extension("pub"));
        keygen(&key)?;
        let pid = self.hosts[index].pid().ok_or("the host is stopped")?;
        let _ = Command::new("kill").args(["-HUP", &pid.to_string()]).status();
        // sshd re-executes itself on SIGHUP; wait until it listens again.
        std::thread::sleep(Duration::from_millis(300));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listening(pid, self.hosts[index].address) {
            if Instant::now() > deadline {
                return Err("sshd did not come back after SIGHUP".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Gives a running host's sshd the settings `first` (in place of the fleet's
    /// own for the same keywords) and more
    /// loopback addresses to listen on, each trusted in the known hosts; sshd
    /// re-reads its configuration on SIGHUP.
    pub fn reconfigure_host(&self, index: usize, first: &str, more_addresses: &[Ipv4Addr]) -> Result<(), String> {
        let config = self.host_dir(index).join("sshd_config");
        let own = std::fs::read_to_string(&config).map_err(|error| error.to_string())?;
        let mut text = String::from(first);
        for address in more_addresses {
            if !address.is_loopback() {
                return Err(format!("{address} is not a loopback address; fleet hosts never use any other"));
            }
            text.push_str(&format!("ListenAddress {address}:{PORT}\n"));
            self.trust(index, *address)?;
        }
        // Not every keyword keeps its first value (`MaxStartups` takes its last):
        // the fleet's own line for a keyword given here goes.
        let keyword = |line: &str| line.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
        let given: Vec<String> = first.lines().map(keyword).collect();
        for line in own.lines().filter(|line| !given.contains(&keyword(line))) {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&config, text).map_err(|error| error.to_string())?;
        let pid = self.hosts[index].pid().ok_or("the host is stopped")?;
        let _ = Command::new("kill").args(["-HUP", &pid.to_string()]).status();
        std::thread::sleep(Duration::from_millis(300));
        let deadline = Instant::now() + Duration::from_secs(10);
        for address in more_addresses.iter().chain([&self.hosts[index].address]) {
            while !listening(pid, *address) {
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(self.host_dir(index).join("sshd.log")).unwrap_or_default();
                    return Err(format!("sshd did not come back on {address} after SIGHUP: {}", log.trim()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    fn namespaces(&self) -> Result<&namespaces::Namespaces, String> {
        self.namespaces.as_ref().ok_or_else(|| "only a fleet started with Network::Namespaces has links".to_owned())
    }

    /// Cuts host `index`'s network link (`true`), or restores it.
    pub fn cut_link(&self, index: usize, cut: bool) -> Result<(), String> {
        self.namespaces()?.cut_link(index, cut)
    }

    /// Drops every packet to and from host `index` silently (`true`), or stops.
    pub fn drop_packets(&self, index: usize, drop: bool) -> Result<(), String> {
        self.namespaces()?.drop_packets(index, drop)
    }

    /// Limits host `index`'s link to `kbit` kilobits per second each way, or lifts it.
    pub fn slow_link(&self, index: usize, kbit: Option<u32>) -> Result<(), String> {
        self.namespaces()?.slow_link(index, kbit)
    }
}
