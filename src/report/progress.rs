//! The live display on a terminal: one bar for the current phase, counting hosts,
//! with notable lines printed above it. One bar per phase (not per host) stays
//! readable with hundreds of hosts.

use std::sync::Mutex;

use deployer_exec::Event;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Progress {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Self { bar: Mutex::new(None) }
    }

    pub(crate) fn update(&self, event: &Event, line: Option<String>) {
        let mut bar = self.bar.lock().expect("not poisoned");
        match event {
            Event::PhaseStarted { phase, number, of, hosts } => {
                if let Some(old) = bar.take() {
                    old.finish_and_clear();
                }
                let new = ProgressBar::with_draw_target(Some(*hosts as u64), ProgressDrawTarget::stderr());
                new.set_style(
                    ProgressStyle::with_template("{spinner} phase {prefix} [{bar:30}] {pos}/{len} hosts {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                new.set_prefix(format!("{number}/{of} {phase}"));
                new.enable_steady_tick(std::time::Duration::from_millis(120));
                *bar = Some(new);
            }
            Event::StepStarted { host, title, .. } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_message(format!("{host}: {title}"));
                }
            }
            Event::PhaseFinished { .. } => {
                if let Some(old) = bar.take() {
                    old.finish_and_clear();
                }
            }
            _ => {}
        }
        if matches!(
            event,
            Event::HostFailed { .. }
                | Event::HostUnreachable { .. }
                | Event::Interrupted
                | Event::Captured { .. }
                | Event::UndoStarted { .. }
                | Event::Connecting { .. }
        ) {
            if let (Some(line), Some(bar)) = (&line, bar.as_ref()) {
                bar.println(line);
            } else if let Some(line) = line {
                crate::output::stderr(&format!("{line}\n"));
            }
        }
        if let (Event::HostDone { .. }, Some(bar)) = (event, bar.as_ref()) {
            bar.inc(1);
        }
    }

    pub(crate) fn clear(&self) {
        if let Some(bar) = self.bar.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
    }
}
