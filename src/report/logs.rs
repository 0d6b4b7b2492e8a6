//! One log file per host per run (FabulAWS writes one per server), in
//! `.deployer/logs/<deploy id>/` next to the configuration file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

use camino::{Utf8Path, Utf8PathBuf};
use deployer_exec::Event;

use super::escape;

/// Bytes written per host log; the rest is counted, not kept.
const MAX_LOG_BYTES: u64 = 20 * 1024 * 1024;

pub(crate) struct HostLogs {
    directory: Utf8PathBuf,
    files: HashMap<String, (BufWriter<File>, u64)>,
    failed: bool,
}

impl HostLogs {
    pub(crate) fn create(config_directory: &Utf8Path, deploy_id: &str) -> Self {
        let directory = config_directory.join(".deployer").join("logs").join(deploy_id);
        // Host output can hold what a secret-bearing command printed: the logs are
        // for the user who ran deployer, not for everyone on the machine.
        let failed = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&directory).is_err()
            || std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o700)).is_err();
        Self { directory, files: HashMap::new(), failed }
    }

    pub(crate) fn directory(&self) -> &Utf8Path {
        &self.directory
    }

    pub(crate) fn record(&mut self, event: &Event) {
        if self.failed {
            return;
        }
        let (host, line) = match event {
            Event::Output { host, stream, line } => {
                let name = match stream {
                    deployer_exec::Stream::Stdout => "stdout",
                    deployer_exec::Stream::Stderr => "stderr",
                };
                (host, format!("{name}: {}", escape(line)))
            }
            Event::StepStarted { host, phase, title, .. } => (host, format!("== {phase}: {title}")),
            Event::StepFinished { host, status, duration_ms, .. } => {
                (host, format!("== status {status} after {}ms", duration_ms))
            }
            Event::HostFailed { host, phase, error } => (host, format!("== FAILED in {phase}: {}", escape(error))),
            Event::HostUnreachable { host, error, .. } => (host, format!("== unreachable: {}", escape(error))),
            Event::HostConnected { host } => (host, "== connected".to_owned()),
            Event::HandshakesDropped { host, count } => {
                (host, format!("== the host dropped {count} handshakes during the banner exchange; tried again"))
            }
            _ => return,
        };
        let file_name = file_name(host);
        let entry = match self.files.entry(host.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let path = self.directory.join(format!("{file_name}.log"));
                match std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path) {
                    Ok(file) => entry.insert((BufWriter::new(file), 0)),
                    Err(_) => return,
                }
            }
        };
        let (writer, written) = entry;
        if *written < MAX_LOG_BYTES {
            *written += line.len() as u64 + 1;
            let _ = writeln!(writer, "{line}");
            if *written >= MAX_LOG_BYTES {
                let _ = writeln!(writer, "== [log cut at {MAX_LOG_BYTES} bytes]");
            }
        }
    }

    pub(crate) fn finish(&mut self) {
        for (writer, _) in self.files.values_mut() {
            let _ = writer.flush();
        }
    }
}

/// A host's log file name: the host string with every byte outside
/// `[A-Za-z0-9._-]` percent-encoded, so distinct hosts never share a file
/// (`a@b` and `a_b` used to) and no name can leave the directory.
fn file_name(host: &str) -> String {
    let mut name = String::with_capacity(host.len());
    for byte in host.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    match name.strip_prefix('.') {
        Some(rest) => format!("%2E{rest}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_hosts_get_distinct_files() {
        assert_ne!(file_name("a@b"), file_name("a_b"));
        assert_ne!(file_name("deploy@web1:22"), file_name("deploy@web1_22"));
        assert_eq!(file_name("deploy@web1:2222"), "deploy%40web1%3A2222");
        assert_eq!(file_name("../x"), "%2E.%2Fx");
    }

    #[test]
    fn logs_are_private() {
        let directory = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(directory.path()).unwrap();
        let mut logs = HostLogs::create(root, "run-1");
        logs.record(&Event::HostConnected { host: "web1".to_owned() });
        logs.finish();
        let mode = |path: &Utf8Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(logs.directory()), 0o700);
        assert_eq!(mode(&logs.directory().join("web1.log")), 0o600);
    }
}
