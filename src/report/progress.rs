//! The live display on a terminal. While the hosts fit on the screen, one line per
//! host shows its current step; beyond that, one bar per phase counts hosts (more
//! bars than terminal rows garble the output), and failing hosts are listed above it.

use std::sync::Mutex;

use deployer_exec::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::escape;

/// Rows kept free for the lines printed above the bars.
const SPARE_ROWS: usize = 4;

enum Display {
    /// One spinner per host, by host name, in plan order.
    PerHost { bars: Vec<(String, ProgressBar)> },
    /// One bar for the current phase.
    Aggregate { bar: Option<ProgressBar> },
}

pub(crate) struct Progress {
    multi: MultiProgress,
    display: Mutex<Display>,
}

impl Progress {
    pub(crate) fn new(hosts: &[String]) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let rows = console::Term::stderr().size().0 as usize;
        let display = if hosts.len() + SPARE_ROWS <= rows {
            let width = hosts.iter().map(String::len).max().unwrap_or(0);
            let style = ProgressStyle::with_template(&format!("{{spinner}} {{prefix:{width}}}  {{wide_msg}}"))
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bars = hosts
                .iter()
                .map(|host| {
                    let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()).with_prefix(host.clone()));
                    bar.set_message("waiting");
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    (host.clone(), bar)
                })
                .collect();
            Display::PerHost { bars }
        } else {
            Display::Aggregate { bar: None }
        };
        Self { multi, display: Mutex::new(display) }
    }

    pub(crate) fn update(&self, event: &Event, line: Option<String>) {
        let mut display = self.display.lock().expect("not poisoned");
        match &mut *display {
            Display::PerHost { bars } => {
                let find = |host: &str| bars.iter().find(|(name, _)| name == host).map(|(_, bar)| bar);
                match event {
                    Event::StepStarted { host, phase, title, .. } => {
                        if let Some(bar) = find(host) {
                            bar.set_message(format!("{phase}: {title}"));
                        }
                    }
                    Event::HostDone { host, phase, ok: true, .. } => {
                        if let Some(bar) = find(host) {
                            bar.set_message(format!("{phase}: done"));
                        }
                    }
                    Event::HostFailed { host, phase, error } => {
                        if let Some(bar) = find(host) {
                            bar.set_message(format!("FAILED in {phase}: {}", escape(error)));
                        }
                    }
                    Event::HostUnreachable { host, error, .. } => {
                        if let Some(bar) = find(host) {
                            bar.finish_with_message(format!("unreachable: {}", escape(error)));
                        }
                    }
                    _ => {}
                }
                if matches!(
                    event,
                    Event::PhaseStarted { .. }
                        | Event::CloudStep { .. }
                        | Event::Launched { .. }
                        | Event::Baking { .. }
                        | Event::GateFinished { .. }
                        | Event::BatchStarted { .. }
                        | Event::Captured { .. }
                        | Event::HostsDiffer { .. }
                        | Event::UndoStarted { .. }
                        | Event::Interrupted
                ) && let Some(line) = line
                {
                    let _ = self.multi.println(line);
                }
            }
            Display::Aggregate { bar } => {
                match event {
                    Event::PhaseStarted { phase, number, of, hosts } => {
                        if let Some(old) = bar.take() {
                            old.finish_and_clear();
                        }
                        let new = self.multi.add(ProgressBar::new(*hosts as u64));
                        new.set_style(
                            ProgressStyle::with_template(
                                "{spinner} phase {prefix} [{bar:30}] {pos}/{len} hosts {wide_msg}",
                            )
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
                    Event::HostDone { .. } => {
                        if let Some(bar) = bar.as_ref() {
                            bar.inc(1);
                        }
                    }
                    Event::PhaseFinished { .. } => {
                        if let Some(old) = bar.take() {
                            old.finish_and_clear();
                        }
                    }
                    _ => {}
                }
                let notable = matches!(
                    event,
                    Event::HostFailed { .. }
                        | Event::HostUnreachable { .. }
                        | Event::CloudStep { .. }
                        | Event::Launched { .. }
                        | Event::Baking { .. }
                        | Event::GateFinished { .. }
                        | Event::Interrupted
                        | Event::BatchStarted { .. }
                        | Event::Captured { .. }
                        | Event::HostsDiffer { .. }
                        | Event::UndoStarted { .. }
                );
                if let (true, Some(line)) = (notable, line) {
                    let _ = self.multi.println(line);
                }
            }
        }
    }

    /// Runs `f` (which prints) with the bars out of the way.
    pub(crate) fn suspend(&self, f: impl FnOnce()) {
        self.multi.suspend(f);
    }

    pub(crate) fn clear(&self) {
        match &mut *self.display.lock().expect("not poisoned") {
            Display::PerHost { bars } => {
                for (_, bar) in bars.iter() {
                    bar.finish();
                }
            }
            Display::Aggregate { bar } => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
