//! Running a command inside fresh cgroups, so everything it starts is counted:
//! CPU time (cpuacct), and sampled every 100 ms the `ssh` processes alive and the
//! memory they all hold (the memory cgroup's resident anonymous memory, so the
//! page cache of files written is not counted). Daemonized ssh masters stay in
//! the cgroups of the process that started them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a command cost.
pub(crate) struct CgroupRun {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
    pub(crate) status: std::process::ExitStatus,
    /// Standard error, line by line, with when each line arrived.
    pub(crate) stderr: Vec<(Duration, String)>,
    /// The most `ssh` processes alive at once.
    pub(crate) peak_ssh: u64,
    /// The most resident memory of the whole group at once (the command and every
    /// process it started), in bytes.
    pub(crate) peak_memory: u64,
}

impl CgroupRun {
    pub(crate) fn stderr_text(&self) -> String {
        let mut text = String::new();
        for (_, line) in &self.stderr {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

struct Group(PathBuf);

/// Numbers each group, so a group an earlier run's processes keep alive never
/// blocks the next one's name.
static GROUPS: AtomicU64 = AtomicU64::new(0);

impl Group {
    /// A new group; processes left in earlier groups of this name (ssh masters
    /// kept between runs) move into it, so what they do during this run counts.
    fn create(controller: &str, name: &str) -> Self {
        let base = PathBuf::from(format!("/sys/fs/cgroup/{controller}"));
        let prefix = format!("{name}-{}-", std::process::id());
        let path = base.join(format!("{prefix}{}", GROUPS.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&path)
            .unwrap_or_else(|error| panic!("create {} (needs root and cgroup v1): {error}", path.display()));
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let old = entry.path();
            if old == path || !entry.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            for pid in std::fs::read_to_string(old.join("cgroup.procs")).unwrap_or_default().lines() {
                let _ = std::fs::write(path.join("cgroup.procs"), pid);
            }
            let _ = std::fs::remove_dir(&old);
        }
        Self(path)
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.0.join(file)).unwrap_or_default()
    }

    fn procs(&self) -> PathBuf {
        self.0.join("cgroup.procs")
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Runs `command` inside fresh cpuacct and memory cgroups.
pub(crate) fn run(name: &str, command: &Command) -> CgroupRun {
    let cpu = Group::create("cpuacct", name);
    let memory = Group::create("memory", name);
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0\" && echo $$ > \"$1\" && shift && exec \"$@\"")
        .arg(cpu.procs())
        .arg(memory.procs())
        .arg(program)
        .args(args)
        .current_dir(command.get_current_dir().unwrap_or(Path::new(".")))
        .envs(command.get_envs().filter_map(|(key, value)| value.map(|value| (key.to_owned(), value.to_owned()))))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    let stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr).lines().map_while(Result::ok).map(|line| (started.elapsed(), line)).collect()
    });
    let done = Arc::new(AtomicBool::new(false));
    let (peak_ssh, peak_memory) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (done, peak_ssh, peak_memory) = (done.clone(), peak_ssh.clone(), peak_memory.clone());
        let (procs, stat) = (cpu.procs(), memory.0.join("memory.stat"));
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak_ssh.fetch_max(count_ssh(&procs), Ordering::SeqCst);
                peak_memory.fetch_max(resident(&stat), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let status = child.wait().expect("the command ends");
    let wall = started.elapsed();
    let stderr: Vec<(Duration, String)> = reader.join().unwrap_or_default();
    // Daemonized ssh masters may outlive the command by a moment; wait for them.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cpu.read("cgroup.procs").trim().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    done.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    let nanos: u64 = cpu.read("cpuacct.usage").trim().parse().unwrap_or(0);
    CgroupRun {
        wall,
        cpu: Duration::from_nanos(nanos),
        status,
        stderr,
        peak_ssh: peak_ssh.load(Ordering::SeqCst),
        peak_memory: peak_memory.load(Ordering::SeqCst),
    }
}

/// The `ssh` processes among those listed in `procs`.
fn count_ssh(procs: &Path) -> u64 {
    let listed = std::fs::read_to_string(procs).unwrap_or_default();
    let ssh = listed
        .lines()
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "ssh"))
        .count();
    u64::try_from(ssh).unwrap_or(u64::MAX)
}

/// Resident anonymous memory (`rss` + `rss_huge`) of a memory cgroup, in bytes.
fn resident(stat: &Path) -> u64 {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(key, _)| matches!(*key, "rss" | "rss_huge"))
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .sum()
}
