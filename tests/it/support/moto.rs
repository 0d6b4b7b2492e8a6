//! A real AWS API emulator for the AWS tests: moto's server mode on 127.0.0.1,
//! from the virtual environment `scripts/test` installs (`target/moto`, or
//! `DEPLOYER_MOTO_VENV`), driven by `tests/moto/motoctl.py` (boto3, an independent
//! client). Its instances live in a 127.0.0.0/8 subnet, so [`Moto::reconcile`]
//! can make each running one a real sshd host of a loopback fleet.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deployer_fleet::Fleet;

use super::root;

pub struct Moto {
    child: Child,
    pub endpoint: String,
    venv: PathBuf,
    /// Images whose files the fleet saved (from their source instance's host).
    saved: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// A file (path under the deploy root, and content) added to every image the
    /// fleet saves: a fault only instances launched from images have.
    pub image_fault: std::sync::Mutex<Option<(String, String)>>,
}

fn venv() -> PathBuf {
    std::env::var_os("DEPLOYER_MOTO_VENV").map_or_else(|| root().join("target/moto"), PathBuf::from)
}

impl Moto {
    /// Why moto cannot run here, if it cannot.
    pub fn unavailable() -> Option<String> {
        let server = venv().join("bin/moto_server");
        (!server.exists()).then(|| {
            format!(
                "{} is missing: `scripts/test` installs moto (python3 -m venv target/moto; pip install 'moto[server]')",
                server.display()
            )
        })
    }

    /// Starts a moto server on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let venv = venv();
        // moto's own server, with the instance refresh API it lacks.
        let child = Command::new(venv.join("bin/python3"))
            .arg(root().join("tests/moto/server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start listening on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            venv,
            saved: std::sync::Mutex::default(),
            image_fault: std::sync::Mutex::default(),
        }
    }

    /// Runs `motoctl.py COMMAND ARGS` against this server; its JSON answer.
    pub fn ctl(&self, args: &[&str]) -> serde_json::Value {
        let output = Command::new(self.venv.join("bin/python"))
            .arg(root().join("tests/moto/motoctl.py"))
            .arg(&self.endpoint)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "motoctl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// A VPC with one subnet, a `127.A.B.0/24` no other test of this process
    /// uses (each test's moto numbers its instances alike, and all the fleets
    /// share one network namespace); the subnet's id.
    pub fn loopback_subnet(&self) -> String {
        let [first, second, third] = deployer_fleet::loopback_network();
        let network = self.ctl(&["network", &format!("{first}.{second}.{third}.0/24")]);
        network["subnet"].as_str().unwrap().to_owned()
    }

    /// Makes the fleet match the cloud: an sshd host for every running instance
    /// that has none, stopped hosts for instances that stopped or terminated.
    /// Returns instance id → fleet host index. Any instance address outside
    /// 127.0.0.0/8 fails the test: it is never dialled.
    ///
    /// Images are emulated: a new image of an instance saves its host's files,
    /// and an instance launched from it starts with a copy of them, so it serves
    /// what the instance imaged served.
    pub fn reconcile(&self, fleet: &mut Fleet, hosts: &mut std::collections::BTreeMap<String, usize>) {
        self.apply(&self.ctl(&["state"]), fleet, hosts);
    }

    /// [`Moto::reconcile`] to a `state` read before.
    fn apply(
        &self,
        state: &serde_json::Value,
        fleet: &mut Fleet,
        hosts: &mut std::collections::BTreeMap<String, usize>,
    ) {
        for image in state["images"].as_array().unwrap() {
            let id = image["id"].as_str().unwrap().to_owned();
            let mut saved = self.saved.lock().unwrap();
            if saved.contains(&id) {
                continue;
            }
            let source = image["source"].as_str().and_then(|source| hosts.get(source));
            let source = *source.unwrap_or_else(|| panic!("image {id} is of an instance that is no fleet host"));
            fleet.save_image(source, &id).expect("the image's files are saved");
            if let Some((path, content)) = &*self.image_fault.lock().unwrap() {
                std::fs::write(fleet.image(&id).unwrap().join(path), content).unwrap();
            }
            saved.insert(id);
        }
        for instance in state["instances"].as_array().unwrap() {
            let id = instance["id"].as_str().unwrap().to_owned();
            let address: Ipv4Addr = instance["ip"].as_str().unwrap().parse().unwrap();
            assert!(address.is_loopback(), "instance {id} has address {address}, outside 127.0.0.0/8");
            let running = matches!(instance["state"].as_str(), Some("pending" | "running"));
            match (running, hosts.get(&id)) {
                (true, None) => {
                    let image = instance["image"].as_str().and_then(|image| fleet.image(image));
                    let index = fleet.add_host_from(address, image.as_deref()).expect("a host starts for the instance");
                    hosts.insert(id, index);
                }
                (false, Some(&index)) => fleet.stop_host(index),
                _ => {}
            }
        }
    }
}

impl Moto {
    /// Runs `deployer ARGS` in `project` while keeping the fleet matched to the
    /// cloud (instances deployer launches become sshd hosts as they appear), and
    /// checks the run left nothing behind.
    pub fn run_reconciling(
        &self,
        project: &mut crate::support::project::Project,
        hosts: &mut std::collections::BTreeMap<String, usize>,
        args: &[&str],
    ) -> crate::support::Outcome {
        let mut child = project.spawn(args);
        let pid = child.id();
        let stderr = crate::support::project::StderrLines::follow(&mut child);
        let status = loop {
            self.reconcile(&mut project.fleet, hosts);
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // What the run terminated on its way out stops serving too.
        self.reconcile(&mut project.fleet, hosts);
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
        crate::support::project::nothing_left_behind(pid);
        crate::support::Outcome { code: status.code().unwrap_or(-1), stdout, stderr: stderr.all() }
    }

    /// Runs `deployer ARGS` like [`Moto::run_reconciling`], and SIGKILLs it once
    /// `when` says so; then cleans up after the kill. `when` is asked after each
    /// read of the cloud and before the hosts of instances that read found are
    /// started, so a deploy that waits for new instances' ssh cannot get past
    /// the moment `when` describes unseen. Returns the run's stderr when it
    /// was not killed (it ended first).
    pub fn kill_reconciling(
        &self,
        project: &mut crate::support::project::Project,
        hosts: &mut std::collections::BTreeMap<String, usize>,
        args: &[&str],
        when: impl Fn(&Self) -> bool,
    ) -> Result<(), String> {
        let mut child = project.spawn(args);
        let pid = child.id();
        let stderr = crate::support::project::StderrLines::follow(&mut child);
        let killed = loop {
            let state = self.ctl(&["state"]);
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            if when(self) {
                crate::support::project::signal(pid, "KILL");
                let _ = child.wait();
                break true;
            }
            self.apply(&state, &mut project.fleet, hosts);
        };
        let stderr = stderr.all();
        crate::support::project::clean_up_killed(pid);
        self.reconcile(&mut project.fleet, hosts);
        if killed { Ok(()) } else { Err(stderr) }
    }

    /// The AWS invariants every AWS test ends with, after a success and after an
    /// undo alike: no server being built (`-PENDING`) or building an image
    /// (`-BUILDER`) is left running, no instance is left marked to retire, and
    /// `group` (when given) carries no deploy's mark, has nothing suspended, runs
    /// as many instances as its desired capacity, each on the image of the launch
    /// template version it launches. (No address outside 127.0.0.0/8 is ever
    /// dialled: [`Moto::reconcile`] fails on one before any host exists for it.)
    pub fn assert_invariants(&self, group: Option<&str>) {
        let state = self.ctl(&["state"]);
        let running: Vec<&serde_json::Value> = state["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|instance| matches!(instance["state"].as_str(), Some("pending" | "running")))
            .collect();
        for instance in &running {
            let role = instance["tags"]["role"].as_str().unwrap_or_default();
            assert!(!role.ends_with("-PENDING") && !role.ends_with("-BUILDER"), "left running: {instance}");
            assert!(instance["tags"].get("deployer:retire").is_none(), "left marked to retire: {instance}");
        }
        let Some(group) = group else { return };
        let found = self.ctl(&["group-state", group]);
        assert!(found["tags"].get("deployer:deploy").is_none(), "a deploy's mark is left: {found}");
        assert!(found["tags"].get("deployer:restore").is_none(), "a deploy's mark is left: {found}");
        assert_eq!(found["suspended"], serde_json::json!([]), "processes left suspended");
        let members: Vec<&str> = found["instances"].as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect();
        assert_eq!(
            members.len() as u64,
            found["desired"].as_u64().unwrap(),
            "capacity is what the group runs: {found}"
        );
        let version: u64 = found["version"].as_str().unwrap().parse().unwrap();
        let versions = self.ctl(&["template-versions", &format!("{group}-template")]);
        let image = versions
            .as_array()
            .unwrap()
            .iter()
            .find(|found| found["version"] == version)
            .map(|found| found["image"].clone())
            .expect("the group's version exists");
        for member in members {
            let instance = running.iter().find(|instance| instance["id"] == member).expect("a group instance runs");
            assert_eq!(instance["image"], image, "group instance {member} is not on its version's image");
        }
    }

    /// The instances of `deployment`'s `environment`: (state, role tag) pairs, sorted.
    pub fn roles(&self, deployment: &str, environment: &str) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = self
            .ctl(&["instances"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|instance| {
                instance["tags"]["deployment"] == deployment && instance["tags"]["environment"] == environment
            })
            .map(|instance| {
                (instance["state"].as_str().unwrap().to_owned(), instance["tags"]["role"].as_str().unwrap().to_owned())
            })
            .collect();
        found.sort();
        found
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
