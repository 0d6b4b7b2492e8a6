//! Runs a role's host command on this machine (Fabric's callable roledefs), e.g.
//! `aws ec2 describe-instances --filters Name=tag:role,Values=web ... --output text`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;

use crate::names::printable;
use crate::select::{DiscoveryRequest, RoleDiscovery};

/// Output beyond this is an error: a host list is never this long.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Runs host commands with `sh -c` in the configuration file's directory.
///
/// The command gets `DEPLOYER_PROJECT`, `DEPLOYER_ENVIRONMENT` and `DEPLOYER_ROLE`
/// in its environment, so one script can serve every role.
pub struct ShellDiscovery {
    pub directory: Utf8PathBuf,
    pub timeout: Duration,
}

impl RoleDiscovery for ShellDiscovery {
    fn discover(&mut self, request: &DiscoveryRequest<'_>) -> Result<String, String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(request.command)
            .current_dir(&self.directory)
            .env("DEPLOYER_PROJECT", request.project)
            .env("DEPLOYER_ENVIRONMENT", request.environment)
            .env("DEPLOYER_ROLE", request.role)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start `sh`: {error}"))?;
        let stdout = child.stdout.take().map(|pipe| std::thread::spawn(move || read_capped(pipe)));
        let stderr = child.stderr.take().map(|pipe| std::thread::spawn(move || read_capped(pipe)));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("it did not finish within {} seconds", self.timeout.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = stdout.map(|thread| thread.join().unwrap_or_default()).unwrap_or_default();
        let stderr = stderr.map(|thread| thread.join().unwrap_or_default()).unwrap_or_default();
        if !status.success() {
            let tail: String = String::from_utf8_lossy(&stderr).lines().rev().take(3).collect::<Vec<_>>().join(" / ");
            return Err(format!("it exited with {status}: {}", printable(tail.trim())));
        }
        if stdout.len() > MAX_OUTPUT {
            return Err("it printed more than 16 MiB".to_owned());
        }
        String::from_utf8(stdout).map_err(|_| "its output is not valid UTF-8".to_owned())
    }
}

fn read_capped(pipe: impl Read) -> Vec<u8> {
    let mut buffer = Vec::new();
    // One byte over the cap is enough to know it was exceeded.
    let _ = pipe.take(MAX_OUTPUT as u64 + 1).read_to_end(&mut buffer);
    buffer
}
