//! One log file per host per run (FabulAWS writes one per server), in
//! `.deployer/logs/<deploy id>/` next to the configuration file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};

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
        let failed = std::fs::create_dir_all(&directory).is_err();
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
            _ => return,
        };
        let file_name = host.replace(['/', ':', '@', '[', ']'], "_");
        let entry = match self.files.entry(host.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                match File::create(self.directory.join(format!("{file_name}.log"))) {
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
