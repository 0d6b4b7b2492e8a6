//! What goes over the wire: one script per host per phase, sent on the standard
//! input of `sh -s`, and the markers by which the host reports each step.
//!
//! Each step runs as `timeout -k <grace> <limit> sh -s <<'<delimiter>'`:
//! - the script travels inside a here-document, so it never appears in any
//!   process's arguments (secrets included);
//! - GNU `timeout` puts the step in its own process group and kills the whole
//!   group at the limit, so nothing the step started outlives it on the host;
//! - the step's exit code comes back in an end marker. Markers carry a per-run
//!   nonce, so a step's own output cannot fake them.

use deployer_plan::Step;

/// Seconds between SIGTERM and SIGKILL when a step runs out of time.
pub const KILL_GRACE_SECONDS: u32 = 10;

/// Exit status of a step that ran out of time (GNU `timeout`).
pub const TIMED_OUT_STATUS: i32 = 124;

/// The phase script's own status after a failed step. The step's real status is in
/// its end marker; a fixed, ordinary value here keeps ssh from treating 127 or 255
/// as a transport error and dropping the output.
pub const STEP_FAILED_EXIT: i32 = 3;

/// The watchdog every phase script defines (`scripts/watchdog.sh`): a step whose
/// session has gone is stopped on the host within seconds.
const WATCHDOG: &str = include_str!("../scripts/watchdog.sh");

/// Appends the code of one of this crate's shell files to `out`, without its
/// comment lines: they stay in the file, and are not sent to every host.
fn push_code(out: &mut String, file: &str) {
    for line in file.lines().filter(|line| !line.trim_start().starts_with('#')) {
        out.push_str(line);
        out.push('\n');
    }
}

/// A marker line a host prints around each step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    Start {
        step: usize,
    },
    End {
        step: usize,
        status: i32,
    },
    /// The phase watchdog's heartbeat: proof someone still reads.
    Alive,
    /// A step asks for its upload (see [`crate::upload`]), saying what it has
    /// to build on: a commit (hex), or nothing.
    Want {
        step: usize,
        base: Option<String>,
    },
}

/// The longest commit id a request may name (SHA-256).
const MAX_BASE: usize = 64;

/// Whether `word` can be a commit id (abbreviated to 7 or more hex digits).
fn is_commit(word: &str) -> bool {
    (7..=MAX_BASE).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A reply a requesting step's script holds, for what the controller guessed
/// its host has (see `scripts/request.sh`).
#[derive(Debug, Clone, Copy)]
pub struct Ahead<'a> {
    /// A commit id.
    pub guess: &'a str,
    pub reply: &'a [u8],
}

/// Builds and parses the per-run wire format.
#[derive(Debug, Clone)]
pub struct Wire {
    /// Starts every marker line: `DEPLOYER-<nonce>`.
    marker: String,
    /// The whole heartbeat line: `DEPLOYER-<nonce> ALIVE`.
    heartbeat: String,
    /// Ends each step's here-document: `DEPLOYER_STEP_<nonce>`.
    delimiter: String,
    /// Seconds between the watchdog's heartbeats: how soon a step whose
    /// controller is gone is stopped.
    heartbeat_seconds: u32,
}

/// Hosts per second of heartbeat interval: with more hosts than this at work the
/// interval grows, so the fleet starts about this many `sleep` processes per
/// second in total (each host one every interval) however large it is.
const HEARTBEATS_PER_SECOND: usize = 50;

/// The heartbeat interval for a run on `hosts` hosts: 2 s up to 100 hosts, then
/// one second more per 50 hosts (20 s at 1,000), at most 60 s.
pub fn heartbeat_seconds(hosts: usize) -> u32 {
    u32::try_from(hosts / HEARTBEATS_PER_SECOND).unwrap_or(u32::MAX).clamp(2, 60)
}

impl Wire {
    /// `nonce` must be unpredictable to the scripts' output (hex or alphanumeric).
    /// The strings every output line is checked against are built once, here.
    pub fn new(nonce: impl Into<String>) -> Self {
        let nonce = nonce.into();
        let marker = format!("DEPLOYER-{nonce}");
        Self {
            heartbeat: format!("{marker} ALIVE"),
            marker,
            delimiter: format!("DEPLOYER_STEP_{nonce}"),
            heartbeat_seconds: 2,
        }
    }

    /// This wire with the watchdog's heartbeat every `seconds` seconds.
    #[must_use]
    pub fn with_heartbeat(mut self, seconds: u32) -> Self {
        self.heartbeat_seconds = seconds.max(1);
        self
    }

    /// Refuses a value that cannot travel byte-exact inside a step: a NUL byte
    /// (no shell word holds one) or this run's delimiter on a line of its own
    /// (it would end the step's here-document early).
    pub fn check_content(&self, text: &str) -> Result<(), String> {
        if text.contains('\0') {
            return Err("the value contains a NUL byte, which cannot be sent to a host unchanged".to_owned());
        }
        match text.lines().find(|line| *line == self.delimiter) {
            Some(line) => Err(format!("a value contains the reserved line `{line}`")),
            None => Ok(()),
        }
    }

    /// The script for one host's steps in one phase. `scripts` are the steps'
    /// scripts with every slot already filled.
    ///
    /// A step with an upload asks for it while it runs and reads the reply on its
    /// descriptor 3, the session's input. So that input then holds nothing but
    /// the reply, the whole phase is one function, called on the script's last
    /// line: a shell reads a function's whole body before it runs any of it,
    /// whether it reads ahead (dash) or byte by byte (bash).
    pub fn phase_script(&self, steps: &[Step], scripts: &[String]) -> String {
        self.phase_script_guessing(steps, scripts, None)
    }

    /// [`Wire::phase_script`], the requesting step holding its reply for what
    /// the controller guessed the host has (`scripts/request.sh`). A guess that
    /// is not a commit id is no guess.
    pub fn phase_script_guessing(&self, steps: &[Step], scripts: &[String], ahead: Option<Ahead<'_>>) -> String {
        let ahead = ahead.filter(|ahead| is_commit(ahead.guess));
        let (marker, delimiter) = (&self.marker, &self.delimiter);
        let requests = steps.iter().any(|step| step.upload.is_some());
        let mut out = String::with_capacity(
            scripts.iter().map(String::len).sum::<usize>()
                + 256 * steps.len()
                + if requests { 2048 } else { 0 }
                + ahead.map_or(0, |ahead| ahead.reply.len() * 4 / 3 + ahead.reply.len() / 57 + 64),
        );
        if requests {
            out.push_str("deployer_phase() {\n");
        }
        // The host's shell settings (a BASH_ENV that sets -x or -v) must not make
        // a script echo itself, secrets and all, into the output.
        out.push_str("set +vx\n");
        push_code(&mut out, WATCHDOG);
        out.push_str(&format!("deployer_watch '{marker} ALIVE' {} &\nguard=$!\n", self.heartbeat_seconds));
        for (index, (step, script)) in steps.iter().zip(scripts).enumerate() {
            // A requesting step: descriptor 3 is the session's input, and the
            // request functions come first, with this step's marker.
            let (input, prelude) = match step.upload {
                Some(_) => ("3<&0 ", self.request_prelude(index, ahead)),
                None => ("", String::new()),
            };
            out.push_str(&format!(
                "printf '%s\\n' '{marker} START {index}'\n\
                 timeout -k {KILL_GRACE_SECONDS} {limit} sh -s {input}<<'{delimiter}'\n\
                 set +vx -eu\n\
                 {prelude}\
                 {script}{newline}\
                 {delimiter}\n\
                 status=$?\n\
                 printf '%s\\n' \"{marker} END {index} $status\"\n\
                 if [ \"$status\" -ne 0 ]; then kill \"$guard\" 2>/dev/null; exit {STEP_FAILED_EXIT}; fi\n",
                limit = step.timeout.max(1),
                newline = if script.ends_with('\n') { "" } else { "\n" },
            ));
        }
        out.push_str("kill \"$guard\" 2>/dev/null\nexit 0\n");
        if requests {
            out.push_str("}\ndeployer_phase; exit \"$?\"\n");
        }
        out
    }

    /// What a requesting step's script starts with: its marker, the reply
    /// held ahead (its guess: a commit id, nothing to quote; its size; its
    /// bytes in base64, which no line of the step's here-document can end),
    /// and `scripts/request.sh` without its comments.
    fn request_prelude(&self, step: usize, ahead: Option<Ahead<'_>>) -> String {
        use base64::Engine;
        let mut prelude = format!("deployer_want='{} WANT {step}'\n", self.marker);
        match ahead {
            Some(Ahead { guess, reply }) => {
                prelude.push_str(&format!(
                    "deployer_guess='{guess}'\ndeployer_ahead_size={}\n\
                     deployer_ahead_decode() {{\nbase64 -d <<'DEPLOYER_AHEAD'\n",
                    reply.len()
                ));
                // 57 bytes: a 76-character line, as base64(1) writes them.
                for line in reply.chunks(57) {
                    base64::engine::general_purpose::STANDARD.encode_string(line, &mut prelude);
                    prelude.push('\n');
                }
                prelude.push_str("DEPLOYER_AHEAD\n}\n");
            }
            None => prelude.push_str("deployer_guess=\n"),
        }
        push_code(&mut prelude, crate::upload::REQUEST_SCRIPT);
        prelude
    }

    /// `line` without heartbeats that landed inside it (a step that writes part
    /// of a line, then waits): the heartbeat is the wire's, never output.
    pub fn without_heartbeats<'a>(&self, line: &'a str) -> std::borrow::Cow<'a, str> {
        if line != self.heartbeat && line.contains(self.heartbeat.as_str()) {
            std::borrow::Cow::Owned(line.replace(self.heartbeat.as_str(), ""))
        } else {
            std::borrow::Cow::Borrowed(line)
        }
    }

    /// Reads a marker from a line of standard output, if it is one.
    pub fn parse(&self, line: &str) -> Option<Marker> {
        let rest = line.strip_prefix(self.marker.as_str())?.strip_prefix(' ')?;
        if rest == "ALIVE" {
            return Some(Marker::Alive);
        }
        let mut words = rest.split(' ');
        match (words.next()?, words.next()?.parse().ok()?, words.next()) {
            ("START", step, None) => Some(Marker::Start { step }),
            ("END", step, Some(status)) => Some(Marker::End { step, status: status.parse().ok()? }),
            // Only `none` or a commit id (hex): the word reaches git on this
            // machine, and whatever a host says is checked before use.
            ("WANT", step, Some(base)) if words.next().is_none() => match base {
                "none" => Some(Marker::Want { step, base: None }),
                _ if is_commit(base) => Some(Marker::Want { step, base: Some(base.to_ascii_lowercase()) }),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use deployer_plan::{Script, StepKind};

    use super::*;

    fn step(timeout: u32) -> Step {
        Step {
            kind: StepKind::Command,
            title: "t".to_owned(),
            timeout,
            effect: deployer_plan::Effect::None,
            script: Script::new(),
            upload: None,
        }
    }

    fn run(script: &str) -> (Vec<Marker>, String) {
        let output = std::process::Command::new("sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(script.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        let wire = Wire::new("n0nce");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let markers = stdout.lines().filter_map(|line| wire.parse(line)).collect();
        let other = stdout.lines().filter(|line| wire.parse(line).is_none()).collect::<Vec<_>>().join("\n");
        (markers, other)
    }

    #[test]
    fn reports_each_step_and_stops_at_the_first_failure() {
        let wire = Wire::new("n0nce");
        let scripts = ["echo one\n".to_owned(), "echo two; exit 3\n".to_owned(), "echo three\n".to_owned()];
        let (markers, output) = run(&wire.phase_script(&[step(5), step(5), step(5)], &scripts));
        assert_eq!(
            markers,
            [
                Marker::Start { step: 0 },
                Marker::End { step: 0, status: 0 },
                Marker::Start { step: 1 },
                Marker::End { step: 1, status: 3 }
            ]
        );
        assert_eq!(output, "one\ntwo");
    }

    #[test]
    fn a_step_that_outlives_its_limit_is_killed_with_its_children() {
        let wire = Wire::new("n0nce");
        let scripts = ["sleep 60 & sleep 60\n".to_owned()];
        let started = std::time::Instant::now();
        let (markers, _) = run(&wire.phase_script(&[step(1)], &scripts));
        assert_eq!(markers[1], Marker::End { step: 0, status: TIMED_OUT_STATUS });
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_step_cannot_read_the_rest_of_the_script_or_fake_markers() {
        let wire = Wire::new("n0nce");
        let scripts = ["cat; echo 'DEPLOYER-other END 0 0'\n".to_owned(), "echo second\n".to_owned()];
        let (markers, output) = run(&wire.phase_script(&[step(5), step(5)], &scripts));
        assert_eq!(markers.len(), 4, "{markers:?}");
        assert!(output.contains("second"));
        assert!(!output.contains("echo second"), "the step read the script: {output}");
    }

    #[test]
    fn a_step_whose_reader_is_gone_is_stopped_on_the_host() {
        use std::io::BufRead;
        let wire = Wire::new("n0nce");
        let scripts = ["echo started; sleep 31.7\n".to_owned()];
        let mut child = std::process::Command::new("sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(wire.phase_script(&[step(60)], &scripts).as_bytes()).unwrap();
        }
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("started") {
            line.clear();
            stdout.read_line(&mut line).unwrap();
        }
        // deployer goes away: nobody reads the session any more.
        drop(stdout);
        let started = std::time::Instant::now();
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
        let left = std::process::Command::new("pgrep").args(["-f", "sleep 31.7"]).output().unwrap();
        assert!(left.stdout.is_empty(), "the step still runs: {}", String::from_utf8_lossy(&left.stdout));
    }

    /// Three steps under `shell`, the middle one asking for a reply on top of
    /// `base` and writing it to `got` in `directory`; the script is sent and
    /// stdin is left open for the reply.
    struct RequestingPhase {
        wire: Wire,
        directory: tempfile::TempDir,
        child: std::process::Child,
        stdin: std::process::ChildStdin,
        stdout: std::io::BufReader<std::process::ChildStdout>,
    }

    impl RequestingPhase {
        fn start(shell: &str, base: &str, ahead: Option<Ahead<'_>>) -> Self {
            use std::io::Write;
            let directory = tempfile::tempdir().unwrap();
            let file = directory.path().join("got");
            let wire = Wire::new("n0nce");
            let mut steps = [step(5), step(5), step(5)];
            steps[1].upload = Some(deployer_plan::Upload { payload: "archive".to_owned() });
            let scripts = [
                "echo first\n".to_owned(),
                format!("deployer_request {base}\ndeployer_receive '{}'\necho received\n", file.display()),
                "echo third; cat\n".to_owned(),
            ];
            let mut child = std::process::Command::new(shell)
                .arg("-s")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(wire.phase_script_guessing(&steps, &scripts, ahead).as_bytes()).unwrap();
            stdin.flush().unwrap();
            let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            Self { wire, directory, child, stdin, stdout }
        }
    }

    /// A step asks for data mid-phase and gets exactly the reply, under a shell
    /// that reads its script ahead (dash) and one that reads it byte by byte
    /// (bash): the rest of the script is never taken for the reply, nor the
    /// reply for script.
    #[test]
    fn a_requesting_step_reads_only_the_reply_whatever_the_shell() {
        use std::io::{BufRead, Write};
        for shell in ["dash", "bash"] {
            let RequestingPhase { wire, directory, mut child, mut stdin, mut stdout } =
                RequestingPhase::start(shell, "abc1234", None);
            let file = directory.path().join("got");
            let mut seen = Vec::new();
            let want = loop {
                let mut line = String::new();
                assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "{shell}: no request came: {seen:?}");
                match wire.parse(line.trim_end()) {
                    Some(Marker::Want { step, base }) => break (step, base),
                    _ => seen.push(line),
                }
            };
            assert_eq!(want, (1, Some("abc1234".to_owned())), "{shell}");
            let data = b"echo this is data, never run\n".repeat(3000);
            for part in crate::upload::reply(std::sync::Arc::from(&data[..])) {
                stdin.write_all(&part).unwrap();
            }
            drop(stdin);
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
            assert!(child.wait().unwrap().success(), "{shell}: {rest}");
            assert_eq!(std::fs::read(&file).unwrap(), data, "{shell}");
            let output: Vec<&str> = rest.lines().filter(|line| wire.parse(line).is_none()).collect();
            assert_eq!(output, ["received", "third"], "{shell}: {rest}");
            let ends = rest.lines().filter(|line| matches!(wire.parse(line), Some(Marker::End { status: 0, .. })));
            assert_eq!(ends.count(), 2, "{shell}: {rest}");
        }
    }

    /// With a guess, the step's script holds the reply for it: a host that has
    /// what was guessed takes it without asking; one that has something else
    /// asks, and gets its own. Under dash and bash.
    #[test]
    fn a_reply_held_ahead_is_taken_when_it_fits_and_asked_past_when_not() {
        use std::io::{BufRead, Write};
        // Every byte value, and more than a pipe holds.
        let ahead: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let asked = b"asked for\n".repeat(3000);
        for shell in ["dash", "bash"] {
            for base in ["abc1234", "def5678"] {
                let held = Ahead { guess: "abc1234", reply: &ahead };
                let RequestingPhase { wire, directory, mut child, stdin, mut stdout } =
                    RequestingPhase::start(shell, base, Some(held));
                let file = directory.path().join("got");
                // Open until a reply ends it, as the executor keeps it.
                let mut stdin = Some(stdin);
                let mut lines = Vec::new();
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap() == 0 {
                        break;
                    }
                    if let Some(Marker::Want { step, base: Some(asked_with) }) = wire.parse(line.trim_end()) {
                        assert_eq!((step, asked_with.as_str()), (1, base), "{shell}");
                        let mut stdin = stdin.take().unwrap();
                        for part in crate::upload::reply(std::sync::Arc::from(&asked[..])) {
                            stdin.write_all(&part).unwrap();
                        }
                    }
                    lines.push(line);
                }
                assert!(child.wait().unwrap().success(), "{shell} {base}: {lines:?}");
                let wants = lines.iter().filter(|line| line.contains(" WANT ")).count();
                let (expected, wanted) = if base == "abc1234" { (&ahead, 0) } else { (&asked, 1) };
                assert_eq!(wants, wanted, "{shell} {base}: {lines:?}");
                assert!(std::fs::read(&file).unwrap() == *expected, "{shell} {base}: not what was sent");
                let output: Vec<&str> =
                    lines.iter().map(|line| line.trim_end()).filter(|line| wire.parse(line).is_none()).collect();
                assert_eq!(output, ["first", "received", "third"], "{shell} {base}");
            }
        }
    }

    #[test]
    fn requests_name_only_a_commit_or_nothing() {
        let wire = Wire::new("abc");
        assert_eq!(wire.parse("DEPLOYER-abc WANT 1 none"), Some(Marker::Want { step: 1, base: None }));
        assert_eq!(
            wire.parse("DEPLOYER-abc WANT 0 ABCDEF1"),
            Some(Marker::Want { step: 0, base: Some("abcdef1".to_owned()) })
        );
        for bad in ["x", "-abcdef1", "abc", "abcdef1 more", "abc def1", "../../etc", &"a".repeat(65)] {
            assert_eq!(wire.parse(&format!("DEPLOYER-abc WANT 0 {bad}")), None, "{bad}");
            // Nor is anything else ever sent as a guess.
            let mut steps = [step(5)];
            steps[0].upload = Some(deployer_plan::Upload { payload: "archive".to_owned() });
            let script =
                wire.phase_script_guessing(&steps, &["true".to_owned()], Some(Ahead { guess: bad, reply: b"x" }));
            assert!(script.contains("deployer_guess=\n") && !script.contains("DEPLOYER_AHEAD"), "{bad}");
        }
    }

    #[test]
    fn heartbeats_are_never_output() {
        let wire = Wire::new("n0nce");
        assert_eq!(wire.parse("DEPLOYER-n0nce ALIVE"), Some(Marker::Alive));
        assert_eq!(wire.without_heartbeats("45%DEPLOYER-n0nce ALIVE"), "45%");
        assert_eq!(wire.without_heartbeats("plain"), "plain");
    }

    #[test]
    fn parses_only_its_own_markers() {
        let wire = Wire::new("abc");
        assert_eq!(wire.parse("DEPLOYER-abc START 2"), Some(Marker::Start { step: 2 }));
        assert_eq!(wire.parse("DEPLOYER-abc END 2 124"), Some(Marker::End { step: 2, status: 124 }));
        assert_eq!(wire.parse("DEPLOYER-xyz END 2 0"), None);
        assert_eq!(wire.parse("DEPLOYER-abc END x 0"), None);
        assert!(wire.check_content("DEPLOYER_STEP_abc").is_err());
        assert!(wire.check_content("a\0b").is_err());
        assert!(wire.check_content("fine").is_ok());
    }

    #[test]
    fn the_heartbeat_slows_down_only_for_large_fleets() {
        assert_eq!(heartbeat_seconds(1), 2);
        assert_eq!(heartbeat_seconds(100), 2);
        assert_eq!(heartbeat_seconds(250), 5);
        assert_eq!(heartbeat_seconds(1000), 20);
        assert_eq!(heartbeat_seconds(100_000), 60);
        let script = Wire::new("n0nce").with_heartbeat(20).phase_script(&[], &[]);
        assert!(script.contains("deployer_watch 'DEPLOYER-n0nce ALIVE' 20 &"), "{script}");
    }
}
