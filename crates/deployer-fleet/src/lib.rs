//! A fleet of real OpenSSH hosts on this machine, for tests and benchmarks.
//!
//! Each host is its own `/usr/sbin/sshd` with its own host key, listening on
//! either its own loopback address (`127.A.B.N`, port 2222: [`Network::Loopback`])
//! or its own address in its own network namespace ([`Network::Namespaces`],
//! where a test can cut the link, drop packets or slow them), in its own mount namespace
//! where [`DEPLOY_PATH`] is a bind mount of that host's directory. So every host
//! has the same deploy path with separate contents, as real servers do, and a
//! test can read each host's files from [`FleetHost::files`].
//!
//! Hosts accept one unprivileged user, [`DEPLOY_USER`], created if missing (the
//! realistic setup, and one where file permissions apply, so tests can inject
//! faults with them). Its home and shell are ordinary, so a session costs what
//! it costs on a real server, whatever the machine's own login files do.
//!
//! Needs root (mount namespaces, sshd's privilege separation, creating the user),
//! `sshd`, `ssh-keygen`, `useradd` and `unshare`. [`Fleet::unavailable`] says why a fleet cannot start
//! here, so tests can skip with a visible message. Everything a fleet starts is
//! stopped when it is dropped.

mod faults;
mod namespaces;
mod user;

use std::ffi::OsStr;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The path at which every fleet host sees its own files.
pub const DEPLOY_PATH: &str = "/srv/deployer-fleet";

/// The port every fleet host listens on (on its own address).
pub const PORT: u16 = 2222;

/// The most hosts a loopback fleet has (for the 1,000-host benchmark).
pub const MAX_LOOPBACK_HOSTS: usize = 1000;

/// The user fleet hosts accept.
pub const DEPLOY_USER: &str = "dplfleet";

const SSHD: &str = "/usr/sbin/sshd";

/// How the controller reaches fleet hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// Each host on its own loopback address: quick to start, but the network
    /// itself cannot fail.
    #[default]
    Loopback,
    /// Each host in its own network namespace, linked by a veth pair to a client
    /// namespace that deployer runs in (see [`Fleet::command`]). Links can be cut,
    /// packets dropped and links slowed.
    Namespaces,
}

/// How to start a fleet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Each host's files on a tmpfs of `(megabytes, inodes)`, so a test can fill
    /// its disk or its inodes.
    pub small_disk: Option<(u32, u32)>,
    pub network: Network,
}

pub struct FleetHost {
    pub address: Ipv4Addr,
    /// This host's files: what it sees at [`DEPLOY_PATH`].
    pub files: PathBuf,
    child: Option<Child>,
}

impl FleetHost {
    /// `root@127.A.B.N:2222`.
    pub fn host_string(&self, user: &str) -> String {
        format!("{user}@{}:{PORT}", self.address)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

pub struct Fleet {
    pub directory: PathBuf,
    pub hosts: Vec<FleetHost>,
    /// The user the fleet's hosts accept (the user running the fleet).
    pub user: String,
    namespaces: Option<namespaces::Namespaces>,
    keep: bool,
}

impl Fleet {
    /// Why a fleet cannot start on this machine, if it cannot.
    pub fn unavailable() -> Option<String> {
        let is_root = Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout == b"0\n");
        if !is_root {
            return Some("the sshd fleet needs root (mount namespaces, sshd privilege separation)".to_owned());
        }
        for tool in [SSHD, "/usr/bin/ssh-keygen", "/usr/bin/unshare", "/usr/bin/ssh", "/usr/sbin/useradd"] {
            if !Path::new(tool).exists() {
                return Some(format!("`{tool}` is missing (apt-get install openssh-server openssh-client util-linux)"));
            }
        }
        None
    }

    /// Starts `count` hosts with their state under `directory`.
    pub fn start(count: usize, directory: &Path) -> Result<Self, String> {
        Self::start_with(count, directory, Options::default())
    }

    /// Why a fleet with `options` cannot start on this machine, if it cannot.
    pub fn unavailable_with(options: Options) -> Option<String> {
        Self::unavailable().or_else(|| match options.network {
            Network::Loopback => None,
            Network::Namespaces => namespaces::unavailable(),
        })
    }

    /// Like [`start`](Self::start), with `options`.
    ///
    /// A loopback fleet has 1 to [`MAX_LOOPBACK_HOSTS`] hosts (250 per /24 of
    /// 127/8, in consecutive /24s); a namespaced one 1 to 250.
    ///
    /// # Panics
    /// Never: the count is checked first.
    pub fn start_with(count: usize, directory: &Path, options: Options) -> Result<Self, String> {
        let most = if options.network == Network::Namespaces { 250 } else { MAX_LOOPBACK_HOSTS };
        if count == 0 || count > most {
            return Err(format!("a fleet of this kind has 1 to {most} hosts"));
        }
        let mut fleet = Self::prepare(directory, options, count)?;
        // Namespaced fleets each have their own network; loopback ones share 127/8.
        let network = loopback_network();
        for index in 0..count {
            let address = match fleet.namespaces {
                Some(_) => namespaces::host_address(index),
                // 250 hosts per /24, then the next /24: at most 4 of them.
                None => Ipv4Addr::new(
                    network[0],
                    network[1],
                    network[2] + u8::try_from(index / 250).expect("at most 1000 loopback hosts"),
                    1 + u8::try_from(index % 250).expect("below 250"),
                ),
            };
            let host = fleet.start_host(index, address, options.small_disk)?;
            fleet.trust(index, address)?;
            fleet.hosts.push(host);
        }
        for host in &mut fleet.hosts {
            wait_until_listening(host)?;
        }
        Ok(fleet)
    }

    /// A loopback fleet with no hosts yet: hosts come later, at addresses chosen
    /// elsewhere (a cloud emulator's instances), through [`Fleet::add_host_at`].
    pub fn start_empty(directory: &Path) -> Result<Self, String> {
        Self::prepare(directory, Options::default(), 0)
    }

    /// Starts one more loopback host listening on `address` (in 127.0.0.0/8: no
    /// other address is ever used), trusted in [`Fleet::known_hosts`]; returns its index.
    pub fn add_host_at(&mut self, address: Ipv4Addr) -> Result<usize, String> {
        self.add_host_from(address, None)
    }

    /// Saves host `index`'s files as the image `name`, as a cloud makes a machine
    /// image of an instance's disk.
    pub fn save_image(&self, index: usize, name: &str) -> Result<(), String> {
        let image = self.directory.join("images").join(name);
        std::fs::create_dir_all(&image).map_err(|error| format!("{}: {error}", image.display()))?;
        copy_tree(&self.hosts[index].files, &image)
    }

    /// The files of image `name`, if it was saved.
    pub fn image(&self, name: &str) -> Option<PathBuf> {
        Some(self.directory.join("images").join(name)).filter(|path| path.is_dir())
    }

    /// [`Fleet::add_host_at`], the host's files starting as a copy of `image`
    /// (a directory from [`Fleet::image`]): an instance launched from an image.
    pub fn add_host_from(&mut self, address: Ipv4Addr, image: Option<&Path>) -> Result<usize, String> {
        if !address.is_loopback() {
            return Err(format!("{address} is not a loopback address; fleet hosts never use any other"));
        }
        if self.namespaces.is_some() {
            return Err("hosts are added to loopback fleets only".to_owned());
        }
        let index = self.hosts.len();
        if let Some(image) = image {
            let files = self.host_dir(index).join("files");
            std::fs::create_dir_all(&files).map_err(|error| error.to_string())?;
            copy_tree(image, &files)?;
        }
        let mut host = self.start_host(index, address, None)?;
        self.trust(index, address)?;
        wait_until_listening(&mut host)?;
        self.hosts.push(host);
        Ok(index)
    }

    /// What every fleet needs before its first host: root, the deploy user, the
    /// client key and the authorized keys.
    fn prepare(directory: &Path, options: Options, count: usize) -> Result<Self, String> {
        if let Some(reason) = Self::unavailable_with(options) {
            return Err(reason);
        }
        std::fs::create_dir_all(directory).map_err(|error| format!("{}: {error}", directory.display()))?;
        user::ensure_user()?;
        // The deploy user reads the authorized keys (and tests' repositories) from here.
        for path in [Some(directory), directory.parent()].into_iter().flatten() {
            set_mode(path, 0o755)?;
        }
        std::fs::create_dir_all(DEPLOY_PATH).map_err(|error| format!("{DEPLOY_PATH}: {error}"))?;
        // sshd refuses to start as root without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let client_key = directory.join("client_key");
        if !client_key.exists() {
            keygen(&client_key)?;
        }
        std::fs::copy(directory.join("client_key.pub"), directory.join("authorized_keys"))
            .map_err(|error| error.to_string())?;
        set_mode(&directory.join("authorized_keys"), 0o644)?;
        std::fs::write(directory.join("known_hosts"), "").map_err(|error| error.to_string())?;
        let user = DEPLOY_USER.to_owned();
        let mut fleet =
            Self { directory: directory.to_owned(), hosts: Vec::new(), user, namespaces: None, keep: false };
        if options.network == Network::Namespaces {
            fleet.namespaces = Some(namespaces::Namespaces::create(count)?);
        }
        Ok(fleet)
    }

    /// Adds host `index`'s key at `address` to the fleet's known hosts.
    fn trust(&self, index: usize, address: Ipv4Addr) -> Result<(), String> {
        let key =
            std::fs::read_to_string(self.host_dir(index).join("host_key.pub")).map_err(|error| error.to_string())?;
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        let mut file =
            std::fs::OpenOptions::new().append(true).open(self.known_hosts()).map_err(|error| error.to_string())?;
        writeln!(file, "[{address}]:{PORT} {}", key.join(" ")).map_err(|error| error.to_string())
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.directory.join("known_hosts")
    }

    pub fn client_key(&self) -> PathBuf {
        self.directory.join("client_key")
    }

    fn host_dir(&self, index: usize) -> PathBuf {
        self.directory.join(format!("host{index}"))
    }

    fn start_host(&self, index: usize, address: Ipv4Addr, small_disk: Option<(u32, u32)>) -> Result<FleetHost, String> {
        let dir = self.host_dir(index);
        let files = dir.join("files");
        std::fs::create_dir_all(&files).map_err(|error| error.to_string())?;
        if let Some((megabytes, inodes)) = small_disk {
            let status = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m,nr_inodes={inodes},mode=0755"), "fleet-disk"])
                .arg(&files)
                .status()
                .map_err(|error| error.to_string())?;
            if !status.success() {
                return Err(format!("cannot mount a tmpfs on {}", files.display()));
            }
        }
        set_mode(&dir, 0o755)?;
        let status = Command::new("chown")
            .arg(format!("{DEPLOY_USER}:{DEPLOY_USER}"))
            .arg(&files)
            .status()
            .map_err(|error| error.to_string())?;
        if !status.success() {
            return Err(format!("cannot give {} to {DEPLOY_USER}", files.display()));
        }
        let host_key = dir.join("host_key");
        if !host_key.exists() {
            keygen(&host_key)?;
        }
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}:{PORT}\n\
                 HostKey {key}\n\
                 PidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {authorized}\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\n\
                 PermitRootLogin no\n\
                 AllowUsers {DEPLOY_USER}\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 PrintMotd no\n\
                 MaxStartups 200:30:400\n\
                 MaxSessions 20\n\
                 LogLevel INFO\n",
                key = host_key.display(),
                dir = dir.display(),
                authorized = self.directory.join("authorized_keys").display(),
            ),
        )
        .map_err(|error| error.to_string())?;
        let log = std::fs::File::create(dir.join("sshd.log")).map_err(|error| error.to_string())?;
        // A private mount namespace per host, with this host's files at DEPLOY_PATH,
        // inside the host's network namespace if it has one.
        let mut command = match &self.namespaces {
            Some(namespaces) => {
                let mut command = namespaces::Namespaces::enter(&namespaces.host(index));
                command.arg("unshare");
                command
            }
            None => Command::new("unshare"),
        };
        let child = command
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                "mount --bind \"$1\" \"$2\" && exec \"$3\" -D -e -f \"$4\"",
                "fleet-host",
            ])
            .arg(&files)
            .arg(DEPLOY_PATH)
            .arg(SSHD)
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|error| format!("cannot start sshd: {error}"))?;
        Ok(FleetHost { address, files, child: Some(child) })
    }

    /// A command that runs `program` where the controller runs: in the client
    /// network namespace of a namespaced fleet, or here.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.namespaces {
            Some(namespaces) => {
                let mut command = namespaces::Namespaces::enter(&namespaces.client());
                command.arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// The client network namespace deployer must run in (namespaced fleets).
    pub fn client_namespace(&self) -> Option<String> {
        self.namespaces.as_ref().map(namespaces::Namespaces::client)
    }

    /// Leaves the hosts running after this value is dropped (`deployer-fleet up`).
    pub fn keep_running(&mut self) {
        self.keep = true;
        let pids: Vec<String> = self.hosts.iter().filter_map(FleetHost::pid).map(|pid| pid.to_string()).collect();
        let _ = std::fs::write(self.directory.join("pids"), pids.join("\n"));
        if let Some(namespaces) = &self.namespaces {
            let _ = std::fs::write(self.directory.join("namespaces"), namespaces.names().join("\n"));
        }
    }

    /// Stops the hosts of a fleet left running by [`keep_running`](Self::keep_running).
    pub fn stop_kept(directory: &Path) -> Result<usize, String> {
        let pids = std::fs::read_to_string(directory.join("pids"))
            .map_err(|error| format!("no fleet in {}: {error}", directory.display()))?;
        let mut stopped = 0;
        for pid in pids.lines().filter(|line| !line.is_empty()) {
            if Command::new("kill").arg(pid).status().is_ok_and(|status| status.success()) {
                stopped += 1;
            }
        }
        let _ = std::fs::remove_file(directory.join("pids"));
        if let Ok(names) = std::fs::read_to_string(directory.join("namespaces")) {
            // sshd needs a moment to exit before its namespace can be let go of cleanly.
            std::thread::sleep(Duration::from_millis(200));
            namespaces::remove_named(&names.lines().map(str::to_owned).collect::<Vec<_>>());
            let _ = std::fs::remove_file(directory.join("namespaces"));
        }
        Ok(stopped)
    }

    /// A `fabulaws-config.yml` fragment naming this fleet's hosts and keys.
    /// A configuration snippet that pastes into `fabulaws-config.yml` as is: the
    /// deploy root the hosts can write, the ssh settings, and a `testing`
    /// environment whose `web` role is every host.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "# {count} fleet hosts. Each sees its own files at {DEPLOY_PATH}; from here they are at:\n",
            count = self.hosts.len()
        );
        for host in &self.hosts {
            text.push_str(&format!("#   {}  {}\n", host.host_string(&self.user), host.files.display()));
        }
        let hosts: Vec<String> =
            self.hosts.iter().map(|host| format!("\"{}\"", host.host_string(&self.user))).collect();
        text.push_str(&format!(
            "# Paste into fabulaws-config.yml (in place of its deploy_root, ssh and environments):\n\
             deploy_root: {DEPLOY_PATH}\n\
             ssh:\n  known_hosts_file: {}\n  identity_file: {}\n\
             environments:\n  testing:\n    branch: main\n    roles:\n      web: [{}]\n",
            self.known_hosts().display(),
            self.client_key().display(),
            hosts.join(", ")
        ));
        text
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for index in 0..self.hosts.len() {
            self.stop_host(index);
            // A small disk (tmpfs) goes away with its host.
            let files = &self.hosts[index].files;
            if Command::new("mountpoint").arg("-q").arg(files).status().is_ok_and(|status| status.success()) {
                let _ = Command::new("umount").arg("--lazy").arg(files).status();
            }
        }
        if let Some(namespaces) = &self.namespaces {
            namespaces.delete();
        }
    }
}

/// Blocks of four /24s in 127/8: second octet 1-250, third octet a multiple of 4.
const LOOPBACK_BLOCKS: u32 = 250 * 61;

/// The first three octets of a block of four /24s of 127/8 (room for
/// [`MAX_LOOPBACK_HOSTS`] hosts) that no other call in this process returned,
/// for a loopback fleet or a cloud emulator's subnet (`127.A.B.0/24`, inside
/// `127.A.0.0/16`). Parallel tests share one network namespace: two of them on
/// one address would have one sshd fail to bind while the other's answered.
/// The start is random so separate processes rarely meet either.
pub fn loopback_network() -> [u8; 3] {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let seed = std::process::id() ^ nanos();
    let _ = NEXT.compare_exchange(u32::MAX, seed % LOOPBACK_BLOCKS, Ordering::Relaxed, Ordering::Relaxed);
    let block = NEXT.fetch_add(1, Ordering::Relaxed) % LOOPBACK_BLOCKS;
    // Below 250 and 244: the casts cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    let (second, third) = ((1 + block % 250) as u8, (block / 250 * 4) as u8);
    [127, second, third]
}

fn nanos() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |time| time.subsec_nanos())
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|error| format!("{}: {error}", path.display()))
}

fn keygen(path: &Path) -> Result<(), String> {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "deployer-fleet", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map_err(|error| format!("cannot run ssh-keygen: {error}"))?;
    if status.success() { Ok(()) } else { Err(format!("ssh-keygen failed for {}", path.display())) }
}

fn wait_until_listening(host: &mut FleetHost) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(child) = host.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let log = host
                .files
                .parent()
                .map(|dir| dir.join("sshd.log"))
                .and_then(|log| std::fs::read_to_string(log).ok())
                .unwrap_or_default();
            return Err(format!("sshd for {} exited ({status}): {}", host.address, log.trim()));
        }
        if host.pid().is_some_and(|pid| listening(pid, host.address)) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::io::stderr().flush();
    Err(format!("sshd for {} did not start listening", host.address))
}

/// Whether process `pid` listens on `address`:[`PORT`], read from the socket table
/// of its own network namespace, so it works from outside a namespaced host
/// without sending a packet. The listening socket must be one of `pid`'s own
/// open files: another process on the address (a parallel test's host) would
/// otherwise pass for this one, which failed to bind.
fn listening(pid: u32, address: Ipv4Addr) -> bool {
    // The kernel prints the address as the in-memory (network order) u32, in hex.
    let wanted = format!("{:08X}:{PORT:04X}", u32::from_ne_bytes(address.octets()));
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")) else { return false };
    let sockets: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN; field 9 is the socket's inode.
            (fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&"0A"))
                .then(|| fields.get(9).map(|inode| format!("socket:[{inode}]")))
                .flatten()
        })
        .collect();
    !sockets.is_empty()
        && std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| sockets.iter().any(|socket| target == Path::new(socket)))
        })
}

/// Copies the contents of `from` into `to`, keeping owners, modes and links.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let status = Command::new("cp")
        .arg("-a")
        .arg("--")
        .arg(from.join("."))
        .arg(to)
        .status()
        .map_err(|error| error.to_string())?;
    if status.success() { Ok(()) } else { Err(format!("cannot copy {} to {}", from.display(), to.display())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_networks_handed_out_in_one_process_never_repeat() {
        // Fewer calls than there are blocks: another test's call landing
        // between two of these moves the counter one further, and a whole
        // cycle would then reach its first block again.
        let networks: Vec<[u8; 3]> = (0..1000).map(|_| loopback_network()).collect();
        let distinct: std::collections::BTreeSet<[u8; 3]> = networks.iter().copied().collect();
        assert_eq!(distinct.len(), networks.len());
        // Each leaves room for four /24s (1,000 hosts) after it.
        assert!(networks.iter().all(|[first, second, third]| *first == 127 && *second >= 1 && *third <= 240));
    }

    #[test]
    fn a_listener_of_another_process_on_the_address_is_not_the_hosts() {
        let [first, second, third] = loopback_network();
        let address = Ipv4Addr::new(first, second, third, 77);
        let Ok(listener) = std::net::TcpListener::bind((address, PORT)) else {
            return; // Taken by something else on this machine: nothing to compare.
        };
        assert!(listening(std::process::id(), address), "this process holds the socket");
        let mut other = Command::new("sleep").arg("30").spawn().unwrap();
        let seen = listening(other.id(), address);
        let _ = other.kill();
        let _ = other.wait();
        drop(listener);
        assert!(!seen, "a process that holds no socket on the address does not listen there");
    }
}
