//! Bytes that reach a host ahead of a phase's script, on the same session
//! (a plan step's [`Upload`](deployer_plan::Upload)): the session runs
//! `scripts/upload.sh`, which copies exactly the upload's size from standard
//! input to its path and then runs the rest of the input as the phase script.
//! Raw bytes: no encoding, no quoting, and no copy of them per host.

use std::sync::Arc;

/// The `upload.sh` the session runs, without its comments.
const UPLOAD_SCRIPT: &str = include_str!("../scripts/upload.sh");

/// One host's upload for one phase: what to send, and where it goes.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Absolute path on the host.
    pub path: String,
    pub bytes: Arc<[u8]>,
}

impl Attachment {
    /// The command the session runs instead of `sh -s`, as words: `sh -c SCRIPT
    /// sh PATH SIZE`. A transport that goes through a shell quotes each word
    /// (see [`Attachment::command_line`]).
    pub fn command(&self) -> Vec<String> {
        let mut script = String::with_capacity(UPLOAD_SCRIPT.len());
        for line in UPLOAD_SCRIPT.lines().filter(|line| !line.trim_start().starts_with('#')) {
            script.push_str(line);
            script.push('\n');
        }
        vec!["sh".to_owned(), "-c".to_owned(), script, "sh".to_owned(), self.path.clone(), self.bytes.len().to_string()]
    }

    /// [`Attachment::command`] as one line for a remote shell, each word
    /// through the one quoting function.
    ///
    /// # Errors
    /// When the path holds a NUL byte (no shell word can).
    pub fn command_line(&self) -> Result<String, deployer_plan::shell::QuoteError> {
        let words = self.command();
        deployer_plan::shell::join(words.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::*;

    /// Runs the upload command here (with `path` as its PATH, if given), with
    /// exactly `input` on stdin.
    fn feed(attachment: &Attachment, input: &[u8], path: Option<String>) -> std::process::Output {
        let words = attachment.command();
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(path) = path {
            command.env("PATH", path);
        }
        let mut child = command.spawn().unwrap();
        // The command may exit before reading it all (a refused head).
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    }

    /// Runs the upload command here, with `data` then `script` on stdin.
    fn run(attachment: &Attachment, script: &str) -> (std::process::Output, Option<Vec<u8>>) {
        let mut input = attachment.bytes.to_vec();
        input.extend_from_slice(script.as_bytes());
        let output = feed(attachment, &input, None);
        let left = std::fs::read(&attachment.path).ok();
        (output, left)
    }

    fn attachment(directory: &std::path::Path, bytes: &[u8]) -> Attachment {
        let path = directory.join("up/.r.incoming").to_str().unwrap().to_owned();
        Attachment { path, bytes: Arc::from(bytes) }
    }

    #[test]
    fn the_script_after_the_data_runs_whole_and_sees_exactly_the_data() {
        let directory = tempfile::tempdir().unwrap();
        // Data that looks like a script, and is larger than any shell's read buffer.
        let mut data = b"echo this is data, never run\n".repeat(4000);
        data.extend_from_slice(&[0, 255, 10, 0]);
        let up = attachment(directory.path(), &data);
        let copy = directory.path().join("copy");
        let script = format!("cp -- '{}' '{}'\necho ran\nexit 7\n", up.path, copy.display());
        let (output, left) = run(&up, &script);
        assert_eq!(output.status.code(), Some(7), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "ran\n");
        assert_eq!(std::fs::read(copy).unwrap(), data);
        assert_eq!(left, None, "what the script left of the upload is removed");
    }

    #[test]
    fn the_upload_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        let up = attachment(directory.path(), b"secret-ish");
        let (output, _) = run(&up, &format!("stat -c %a -- '{}'\n", up.path));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "600\n");
        let parent = std::fs::metadata(directory.path().join("up")).unwrap().permissions().mode() & 0o777;
        assert_eq!(parent, 0o700);
    }

    #[test]
    fn a_copy_that_cannot_be_written_runs_nothing_of_the_input() {
        let directory = tempfile::tempdir().unwrap();
        // The upload's directory is a file: the copy fails.
        std::fs::write(directory.path().join("up"), "").unwrap();
        let up = attachment(directory.path(), b"touch taken-for-a-script\n");
        let marker = directory.path().join("ran");
        let (output, _) = run(&up, &format!("touch '{}'\n", marker.display()));
        assert_eq!(output.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&output.stderr).contains("could not write what this machine sent"));
        assert!(!marker.exists(), "the script after a failed copy never runs");
    }

    #[test]
    fn a_head_that_may_read_ahead_is_refused_before_anything_is_read() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        // A PATH whose head is not GNU's (it says what BusyBox says), beside the real tools.
        let bin = directory.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let head = bin.join("head");
        std::fs::write(&head, "#!/bin/sh\necho 'BusyBox v1.36.1 multi-call binary.'\n").unwrap();
        std::fs::set_permissions(&head, std::fs::Permissions::from_mode(0o755)).unwrap();
        let up = attachment(directory.path(), b"data");
        let marker = directory.path().join("ran");
        let input = format!("datatouch '{}'\n", marker.display());
        let output = feed(&up, input.as_bytes(), Some(format!("{}:/usr/bin:/bin", bin.display())));
        assert_eq!(output.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&output.stderr).contains("needs GNU head"), "{output:?}");
        assert!(!marker.exists(), "nothing of the input ran");
        assert!(!std::path::Path::new(&up.path).exists(), "nothing was written");
    }

    #[test]
    fn a_short_upload_leaves_the_script_nothing_to_run() {
        let directory = tempfile::tempdir().unwrap();
        let up = attachment(directory.path(), b"0123456789");
        // Only 4 of the 10 bytes arrive, then the input ends (the controller went away).
        let output = feed(&up, b"0123", None);
        assert_eq!(output.status.code(), Some(0), "an empty script");
        assert!(output.stdout.is_empty());
        assert!(!std::path::Path::new(&up.path).exists(), "the short copy is removed");
    }

    #[test]
    fn the_command_line_quotes_every_word() {
        let up = Attachment { path: "/srv/a b/$(x)/.r.incoming".to_owned(), bytes: Arc::from(&b"x"[..]) };
        let line = up.command_line().unwrap();
        let words = shlex::split(&line).unwrap();
        assert_eq!(words, up.command());
    }
}
