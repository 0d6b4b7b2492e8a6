//! Turning executor events into what people and machines read: plain lines (or a
//! progress display on a terminal), JSON lines with `--json`, and one log file per
//! host. Everything printed from a host is escaped, so remote output cannot move
//! the cursor, change colours or inject fake lines.

mod logs;
mod progress;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use deployer_exec::{Event, Outcome, Reporter};
use deployer_plan::count_hosts;
use deployer_plan::protocol::captured::Captured;

pub(crate) use logs::HostLogs;
pub(crate) use progress::Progress;

use crate::output;

/// How events are shown.
pub(crate) enum Style {
    /// JSON lines on stdout.
    Json,
    /// Plain lines on stderr (pipes, CI).
    Plain,
    /// A live display on the terminal.
    Progress(Progress),
}

/// What happens to the hosts' own output besides the log files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostOutput {
    /// Only in the logs (and the last lines of a failing step in the summary).
    Logged,
    /// On standard output as it comes, `[host] out: line` (Fabric's habit).
    Streamed,
    /// On standard output, each host's lines together once the run is over.
    Grouped,
}

pub(crate) struct CliReporter {
    style: Style,
    logs: Mutex<HostLogs>,
    run: RunNames,
    host_output: HostOutput,
    /// Each host's lines, for `HostOutput::Grouped`, in plan order of first output.
    grouped: Mutex<indexmap::IndexMap<String, Vec<String>>>,
    /// Steps started and not yet finished, for the message a stop signal prints.
    running: Arc<AtomicUsize>,
    /// One line per phase instead of one per step per host (many hosts, a pipe).
    condensed: bool,
    /// Hosts in the current phase, for its condensed summary line.
    phase_hosts: AtomicUsize,
}

/// What the summary needs to tell people how to clean up after this run.
pub(crate) struct RunNames {
    pub(crate) environment: String,
    pub(crate) deploy_id: String,
}

impl CliReporter {
    pub(crate) fn new(style: Style, logs: HostLogs, run: RunNames, host_output: HostOutput, condensed: bool) -> Self {
        Self {
            style,
            logs: Mutex::new(logs),
            run,
            host_output,
            grouped: Mutex::default(),
            running: Arc::default(),
            condensed,
            phase_hosts: AtomicUsize::new(0),
        }
    }

    /// A plain line for `event`: every step of every host, or with `condensed`
    /// (many hosts in a pipe) one line per phase with its counts, and every
    /// failure in full.
    fn plain_line(&self, event: &Event) -> Option<String> {
        if !self.condensed {
            return plain_line(event);
        }
        match event {
            Event::StepFinished { status: 0, .. } => None,
            Event::PhaseStarted { hosts, .. } => {
                self.phase_hosts.store(*hosts, Ordering::SeqCst);
                plain_line(event)
            }
            Event::PhaseFinished { phase, failed, duration_ms } => {
                let hosts = self.phase_hosts.load(Ordering::SeqCst);
                Some(format!(
                    "{phase}: {} ok, {failed} failed ({})",
                    hosts.saturating_sub(*failed),
                    seconds(*duration_ms)
                ))
            }
            Event::BatchStarted { phase, number, of, hosts, wave } => {
                let group = if *wave { "wave" } else { "batch" };
                Some(format!("{phase}: {group} {number}/{of} on {}", count_hosts(hosts.len())))
            }
            _ => plain_line(event),
        }
    }

    /// The count of running steps, shared with the stop-signal watcher.
    pub(crate) fn running_steps(&self) -> Arc<AtomicUsize> {
        self.running.clone()
    }

    /// A host's line as Fabric shows it: `[web1] out: ...` or `[web1] err: ...`.
    fn host_line(host: &str, stream: deployer_exec::Stream, line: &str) -> String {
        let name = if stream == deployer_exec::Stream::Stdout { "out" } else { "err" };
        format!("[{host}] {name}: {}\n", escape(line))
    }

    fn show_output(&self, event: &Event) {
        let Event::Output { host, stream, line } = event else { return };
        match self.host_output {
            HostOutput::Logged => {}
            HostOutput::Streamed => {
                let text = Self::host_line(host, *stream, line);
                match &self.style {
                    Style::Progress(progress) => progress.suspend(|| output::stdout(&text)),
                    _ => output::stdout(&text),
                }
            }
            HostOutput::Grouped => {
                let text = Self::host_line(host, *stream, line);
                self.grouped.lock().expect("not poisoned").entry(host.clone()).or_default().push(text);
            }
        }
    }

    pub(crate) fn finish(&self, outcome: &Outcome) {
        self.logs.lock().expect("not poisoned").finish();
        if let Style::Progress(progress) = &self.style {
            progress.clear();
        }
        for lines in self.grouped.lock().expect("not poisoned").values() {
            output::stdout(&lines.concat());
        }
        match &self.style {
            Style::Json => {
                output::stdout(&format!("{}\n", serde_json::json!({ "event": "summary", "outcome": outcome })))
            }
            _ => output::stderr(&summary(outcome, &self.run)),
        }
    }
}

impl Reporter for CliReporter {
    fn report(&self, event: Event) {
        self.logs.lock().expect("not poisoned").record(&event);
        match &event {
            Event::StepStarted { .. } => {
                self.running.fetch_add(1, Ordering::SeqCst);
            }
            Event::StepFinished { .. } => {
                let _ = self.running.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |count| count.checked_sub(1));
            }
            _ => {}
        }
        match &self.style {
            Style::Json => {}
            _ => self.show_output(&event),
        }
        match &self.style {
            Style::Json => {
                if let Ok(line) = serde_json::to_string(&event) {
                    output::stdout(&format!("{line}\n"));
                }
            }
            Style::Plain => {
                if let Some(line) = self.plain_line(&event) {
                    output::stderr(&format!("{line}\n"));
                }
            }
            Style::Progress(progress) => progress.update(&event, plain_line(&event)),
        }
    }
}

/// One line for the events a person follows; host output goes to the log files.
fn plain_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::Connecting { hosts } => format!("connecting to {}", count_hosts(*hosts)),
        Event::Connected { dropped_handshakes, .. } if *dropped_handshakes > 0 => format!(
            "note: the hosts' sshd dropped {dropped_handshakes} handshakes during the banner exchange (its \
             `MaxStartups` limit) and they were tried again; lower `ssh.connect_concurrency` or set \
             `ssh.connect_rate` to connect without the wait"
        ),
        Event::HostUnreachable { host, error, skipped } => {
            let what = if *skipped { "left out" } else { "unreachable" };
            format!("[{host}] {what}: {}", escape(error))
        }
        // Only cloud phases run on no host: they run here, through the cloud API.
        Event::PhaseStarted { phase, number, of, hosts: 0 } => format!("phase {number}/{of}: {phase} on this machine"),
        Event::PhaseStarted { phase, number, of, hosts } => {
            format!("phase {number}/{of}: {phase} on {}", count_hosts(*hosts))
        }
        Event::Baking { phase, wave, seconds } => {
            format!("{phase}: wave {wave} done; baking {seconds}s before the next")
        }
        Event::GateFinished { phase, wave, error: None, duration_ms } => {
            format!("{phase}: gate after wave {wave}: passed ({})", seconds(*duration_ms))
        }
        Event::GateFinished { phase, wave, error: Some(error), duration_ms } => {
            format!("{phase}: gate after wave {wave}: FAILED: {} ({})", escape(error), seconds(*duration_ms))
        }
        Event::CloudStep { title, note, error, duration_ms, .. } => match (error, note) {
            (Some(error), _) => {
                format!("[this machine] {title}: FAILED: {} ({})", escape(error), seconds(*duration_ms))
            }
            (None, Some(note)) => format!("[this machine] {title}: ok, {} ({})", escape(note), seconds(*duration_ms)),
            (None, None) => format!("[this machine] {title}: ok ({})", seconds(*duration_ms)),
        },
        Event::Launched { host, id, address } => {
            format!("[this machine] {host} is instance {} at {}", escape(id), escape(address))
        }
        Event::StepFinished { host, title, status, duration_ms, .. } => {
            let result = if *status == 0 { "ok".to_owned() } else { format!("FAILED (status {status})") };
            format!("[{host}] {title}: {result} ({})", seconds(*duration_ms))
        }
        Event::HostFailed { host, phase, error } => format!("[{host}] {phase} failed: {}", escape(error)),
        Event::Captured { name: Captured::MigrationsSinceTarget, value } => match value.as_str() {
            "yes" => "warning: migrations ran after the rollback target was deployed; the database may be newer than \
                      that release expects"
                .to_owned(),
            "no" => "no migrations ran since the rollback target".to_owned(),
            _ => "cannot tell from the history whether migrations ran since the rollback target".to_owned(),
        },
        Event::Captured { name, value } => format!("every host agrees on the {}: {}", name.describe(), escape(value)),
        Event::HostsDiffer { name, values } => {
            let listed: Vec<String> =
                values.iter().map(|(value, hosts)| format!("{} on {}", escape(value), hosts.join(", "))).collect();
            format!("warning: hosts differ on the {}: {}", name.describe(), listed.join("; "))
        }
        Event::BatchStarted { phase, number, of, hosts, wave } => {
            let group = if *wave { "wave" } else { "batch" };
            format!("{phase}: {group} {number}/{of}: {}", hosts.join(", "))
        }
        Event::UndoStarted { phase, hosts: 0 } => format!("undoing {phase} on this machine"),
        Event::UndoStarted { phase, hosts } => format!("undoing {phase} on {}", count_hosts(*hosts)),
        Event::Interrupted => {
            "interrupted: the running steps ended; undoing what ran (signal again to stop at once)".to_owned()
        }
        _ => return None,
    })
}

fn summary(outcome: &Outcome, run: &RunNames) -> String {
    let mut text = String::from("\n");
    let width = outcome.hosts.iter().map(|host| host.host.len()).max().unwrap_or(4).max(4);
    let roles_width = outcome.hosts.iter().map(|host| host.roles.join(",").len()).max().unwrap_or(5).max(5);
    // Cloud calls only: no host table, the cloud steps' lines said it all.
    if !outcome.hosts.is_empty() {
        text.push_str(&format!("{:width$}  {:roles_width$}  {:8}  result\n", "host", "roles", "time"));
    }
    for host in &outcome.hosts {
        let result = match &host.result {
            deployer_exec::HostResult::Ok => "ok".to_owned(),
            deployer_exec::HostResult::Failed { phase, error } => format!("failed in {phase}: {}", escape(error)),
            deployer_exec::HostResult::Unreachable { error } => format!("unreachable: {}", escape(error)),
            deployer_exec::HostResult::Skipped => "skipped".to_owned(),
            deployer_exec::HostResult::Undone => "undone".to_owned(),
            deployer_exec::HostResult::NothingRan => "nothing ran".to_owned(),
        };
        text.push_str(&format!(
            "{:width$}  {:roles_width$}  {:8}  {result}\n",
            host.host,
            host.roles.join(","),
            seconds(host.duration_ms)
        ));
    }
    for failure in &outcome.failures {
        let step = failure.step.as_deref().map(|step| format!(", step `{step}`")).unwrap_or_default();
        text.push_str(&format!("\nerror: [{}] {}{step}: {}\n", failure.host, failure.phase, escape(&failure.error)));
        for line in &failure.output_tail {
            text.push_str(&format!("  | {}\n", escape(line)));
        }
    }
    for failure in &outcome.follow_up_failures {
        let step = failure.step.as_deref().map(|step| format!(", step `{step}`")).unwrap_or_default();
        text.push_str(&format!(
            "\nwarning: [{}] hook `{}` failed after the run{step}: {} (the run's result stands)\n",
            failure.host,
            failure.phase,
            escape(&failure.error)
        ));
        for line in &failure.output_tail {
            text.push_str(&format!("  | {}\n", escape(line)));
        }
    }
    for failure in &outcome.undo_failures {
        text.push_str(&format!(
            "error: [{}] {} did not complete: {}\n",
            failure.host,
            failure.phase,
            escape(&failure.error)
        ));
    }
    if !outcome.switched.is_empty() {
        let others: Vec<&str> = outcome
            .hosts
            .iter()
            .map(|host| host.host.as_str())
            .filter(|host| !outcome.switched.iter().any(|name| name == host))
            .collect();
        text.push_str(&format!("\nleft on the new release: {}\n", outcome.switched.join(", ")));
        if !others.is_empty() {
            text.push_str(&format!("on their previous release: {}\n", others.join(", ")));
        }
    }
    if !outcome.irreversible.is_empty() {
        text.push_str(&format!(
            "\nnot undone, nothing can undo it: {}; the database may be ahead of the release that is live\n",
            outcome.irreversible.join(", ")
        ));
    }
    if !outcome.locks_left.is_empty() {
        text.push_str(&format!(
            "\nthe environment lock of this run (id {id}) may remain on: {hosts}\n\
             once they answer again, check with `deployer lock status {env}` and release it with \
             `deployer lock release {env} --id {id}`\n",
            id = run.deploy_id,
            hosts = outcome.locks_left.join(", "),
            env = run.environment,
        ));
    }
    if let Some(reason) = &outcome.refused {
        text.push_str(&format!("error: {}\n", escape(reason)));
    }
    text
}

pub(crate) fn seconds(milliseconds: u64) -> String {
    format!("{:.1}s", milliseconds as f64 / 1000.0)
}

/// Makes remote text safe for a terminal: control characters become visible escapes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_terminal_control_sequences() {
        assert_eq!(escape("a\u{1b}[2Jb\rc\u{7}"), "a\\u{1b}[2Jb\\rc\\u{7}");
        assert_eq!(escape("tab\tok é"), "tab\tok é");
    }
}
