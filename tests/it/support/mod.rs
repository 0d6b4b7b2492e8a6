//! Helpers shared by the integration tests.

pub mod invariants;
#[cfg(feature = "aws")]
pub mod moto;
pub mod project;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root (where `fabulaws-config.yml.example` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("tests").join("fixtures")
}

/// `deployer` run from `directory`, with colour and terminal features off.
pub fn deployer(directory: &Path) -> Command {
    let mut command = Command::cargo_bin("deployer").expect("the deployer binary is built");
    command.current_dir(directory).env("NO_COLOR", "1").env_remove("DEPLOYER_CONFIG");
    command
}

/// Runs git in `directory` with a fixed identity and default branch; returns its
/// trimmed standard output. The one git helper of the integration tests.
pub fn git(directory: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .arg("-C")
        .arg(directory)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(command: &mut Command) -> Outcome {
    let output = command.output().expect("deployer runs");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `run` while a thread samples `sample` every `every`; returns what `run`
/// returned and the largest sample. A sampler, not a wait: the interval only
/// bounds the CPU the sampling takes.
pub fn most_while<T>(
    every: std::time::Duration,
    sample: impl Fn() -> usize + Sync,
    run: impl FnOnce() -> T,
) -> (T, usize) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut most = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                most = most.max(sample());
                std::thread::sleep(every);
            }
            most
        });
        let result = run();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        (result, sampler.join().expect("the sampler does not panic"))
    })
}
