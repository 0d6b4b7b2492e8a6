//! Every step a plan can hold: its kind, title, time limit, what it is for, and
//! its script, filled from the files under `scripts/` ([`crate::scripts`]). Values
//! reach the scripts only as quoted inputs; user commands from the configuration
//! are passed as arguments the scripts `eval`, with standard input closed.

use deployer_config::{HealthCheck, PushCompression, StaticHtml};

use crate::error::PlanError;
use crate::layout::Layout;
use crate::model::{Effect, Step, StepKind};
use crate::protocol::captured::Captured;
use crate::protocol::lock_owner::{LockOwner, id_line};
use crate::script::Script;
use crate::scripts::{self, ShellFile, Value};

/// Exit status of a lock step that found the lock held (`EX_TEMPFAIL`).
pub const LOCK_HELD_STATUS: i32 = 75;

/// The upload (see [`Upload`](crate::Upload)) holding the `push` strategy's
/// archive of the release (see [`crate::protocol::pushed`]).
pub const ARCHIVE_PAYLOAD: &str = "archive";

pub(crate) struct StepBuilder<'a> {
    pub layout: &'a Layout,
    pub timeout: u32,
    pub environment: &'a str,
    /// This run's id: recorded with what the run creates, so undo removes only that.
    pub run: &'a str,
}

/// The scripts' name for how the pushed archive is compressed.
fn archive_type(compression: PushCompression) -> Value {
    Value::word(match compression {
        PushCompression::Gzip => "gzip",
        PushCompression::Zstd => "zstd",
    })
}

fn commands(commands: &[String]) -> Vec<Value> {
    commands.iter().map(Value::word).collect()
}

impl StepBuilder<'_> {
    fn step(&self, kind: StepKind, title: impl Into<String>, script: Script) -> Step {
        Step { kind, title: title.into(), timeout: self.timeout, effect: Effect::None, script, upload: None }
    }

    fn fill(&self, file: ShellFile, inputs: Vec<(&str, Value)>) -> Script {
        file.fill(self.layout, inputs, Vec::new())
    }

    pub fn check_connection(&self) -> Step {
        self.step(StepKind::CheckConnection, "check the host answers", self.fill(scripts::CHECK_CONNECTION, vec![]))
    }

    pub fn create_layout(&self, shared_dirs: &[String], shared_files: &[String]) -> Step {
        let script = self.fill(
            scripts::CREATE_LAYOUT,
            vec![
                ("shared_dirs", Value::Lines(shared_dirs.to_vec())),
                ("shared_files", Value::Lines(shared_files.to_vec())),
            ],
        );
        self.step(StepKind::CreateLayout, "create the directory layout and shared files", script)
    }

    pub fn setup(&self, role: &str, setup: &[String]) -> Step {
        let script = scripts::SETUP.fill(self.layout, vec![], commands(setup));
        self.step(StepKind::Setup, format!("run the `{role}` setup commands"), script)
    }

    pub fn lock(&self, owner: &LockOwner) -> Step {
        let script = self.fill(
            scripts::LOCK,
            vec![("owner_record", Value::Word(owner.record())), ("held_status", Value::word(&LOCK_HELD_STATUS))],
        );
        let mut step = self.step(StepKind::Lock, "take the environment lock", script);
        step.effect = Effect::TakesLock;
        step
    }

    /// Releases the lock only if this run holds it.
    pub fn unlock(&self, deploy_id: &str) -> Step {
        let script = self.fill(scripts::UNLOCK, vec![("owner_line", Value::Word(id_line(deploy_id)))]);
        let mut step = self.step(StepKind::Unlock, "release the environment lock", script);
        step.effect = Effect::ReleasesLock;
        step
    }

    /// Fetches the pinned commit into the host's mirror and extracts it. `reclaim`
    /// (a resume): an unfinished release of this id that deployer created is
    /// replaced instead of refused.
    /// `hardlink`: the release is hard links into the host's pristine checkout.
    pub fn prepare_release(&self, repo: &str, commit: &str, id: &str, (reclaim, hardlink): (bool, bool)) -> Step {
        let script = self.fill(
            scripts::PREPARE_RELEASE,
            vec![
                ("repo", Value::word(repo)),
                ("commit", Value::word(commit)),
                ("release", Value::word(id)),
                ("run", Value::word(self.run)),
                ("reclaim", Value::word(if reclaim { "yes" } else { "no" })),
                ("hardlink", Value::word(if hardlink { "yes" } else { "no" })),
            ],
        );
        let how = if hardlink { "link unchanged files" } else { "extract it" };
        self.step(StepKind::PrepareRelease, format!("fetch {} and {how}", short(commit)), script)
    }

    /// The `fetch` phase's step: the pinned commit into the host's mirror, and
    /// nothing else, so the phase's pool bounds the git server's load.
    pub fn fetch(&self, repo: &str, commit: &str) -> Step {
        let script = self.fill(scripts::FETCH, vec![("repo", Value::word(repo)), ("commit", Value::word(commit))]);
        self.step(StepKind::Fetch, format!("fetch {} into the host's mirror", short(commit)), script)
    }

    /// The `push` strategy's transfer: the host asks for the controller's
    /// archive of the release (an [`Upload`](crate::Upload)), with `hardlink`
    /// only what changed since its pristine tree's commit, and keeps it until
    /// the prepare unpacks it.
    pub fn receive_archive(&self, commit: &str, id: &str, (compression, hardlink): (PushCompression, bool)) -> Step {
        let incoming = self.layout.named("uploads").expect("a layout path").join(format!(".{id}.incoming"));
        let script = self.fill(
            scripts::RECEIVE_ARCHIVE,
            vec![
                ("release", Value::word(id)),
                ("incoming", Value::word(incoming.as_str())),
                ("archive_type", archive_type(compression)),
                ("hardlink", Value::word(if hardlink { "yes" } else { "no" })),
            ],
        );
        let what = if hardlink { "what the host lacks of" } else { "the archive of" };
        let mut step =
            self.step(StepKind::ReceiveArchive, format!("receive {what} {} from this machine", short(commit)), script);
        step.upload = Some(crate::Upload { payload: ARCHIVE_PAYLOAD.to_owned() });
        step
    }

    /// Undo of [`StepBuilder::receive_archive`].
    pub fn discard_archive(&self, id: &str) -> Step {
        let script = self.fill(scripts::DISCARD_ARCHIVE, vec![("release", Value::word(id))]);
        self.step(StepKind::DiscardArchive, "remove the archive this run pushed", script)
    }

    /// The `push` strategy's prepare: the release extracted from the pushed
    /// archive; with `hardlink`, the archive updates the pristine tree and the
    /// release is hard links to its files.
    pub fn prepare_pushed(
        &self,
        commit: &str,
        id: &str,
        (reclaim, hardlink): (bool, bool),
        compression: PushCompression,
    ) -> Step {
        let script = self.fill(
            scripts::PREPARE_PUSHED,
            vec![
                ("commit", Value::word(commit)),
                ("release", Value::word(id)),
                ("run", Value::word(self.run)),
                ("reclaim", Value::word(if reclaim { "yes" } else { "no" })),
                ("archive_type", archive_type(compression)),
                ("hardlink", Value::word(if hardlink { "yes" } else { "no" })),
            ],
        );
        let how = if hardlink { "link unchanged files" } else { "extract it" };
        self.step(StepKind::PrepareRelease, format!("unpack the pushed archive of {} and {how}", short(commit)), script)
    }

    /// A resume's prepare on a host where the release is already complete.
    pub fn verify_prepared(&self, id: &str) -> Step {
        let script = self.fill(scripts::VERIFY_PREPARED, vec![("release", Value::word(id))]);
        self.step(StepKind::VerifyPrepared, "check the release is still complete (prepared before)", script)
    }

    /// On a server launched from a release image: `current` is that release.
    pub fn verify_live(&self, id: &str) -> Step {
        let script = self.fill(scripts::VERIFY_LIVE, vec![("release", Value::word(id))]);
        self.step(StepKind::VerifyLive, "check the server serves the release from its image", script)
    }

    pub fn link_shared(&self, id: &str, dirs: &[String], files: &[String]) -> Option<Step> {
        if dirs.is_empty() && files.is_empty() {
            return None;
        }
        let script = self.fill(
            scripts::LINK_SHARED,
            vec![
                ("release", Value::word(id)),
                ("shared_dirs", Value::Lines(dirs.to_vec())),
                ("shared_files", Value::Lines(files.to_vec())),
            ],
        );
        Some(self.step(StepKind::LinkShared, "link shared files and directories", script))
    }

    /// Writes `content` to `dest` (relative to the release) with `mode`.
    pub fn render_template(&self, id: &str, dest: &str, content: Script, mode: u32) -> Result<Step, PlanError> {
        check_content(dest, &content)?;
        let script = self.fill(
            scripts::RENDER_TEMPLATE,
            vec![
                ("release", Value::word(id)),
                ("dest", Value::word(dest)),
                ("mode", Value::Word(format!("{mode:04o}"))),
                ("content", Value::Content(content)),
            ],
        );
        Ok(self.step(StepKind::RenderTemplate, format!("render {dest}"), script))
    }

    pub fn build(&self, id: &str, commit: &str, role: &str, build: &[String]) -> Step {
        self.step(StepKind::Build, format!("build (`{role}`)"), self.in_release(id, commit, build))
    }

    pub fn migrate(&self, id: &str, commit: &str, migrate: &[String]) -> Step {
        let mut step = self.step(StepKind::Migrate, "run the migrations (once)", self.in_release(id, commit, migrate));
        step.effect = Effect::Irreversible;
        step
    }

    fn in_release(&self, id: &str, commit: &str, run: &[String]) -> Script {
        scripts::BUILD.fill(
            self.layout,
            vec![
                ("release", Value::word(id)),
                ("commit", Value::word(commit)),
                ("environment", Value::word(self.environment)),
            ],
            commands(run),
        )
    }

    /// Flushes the release to disk, marks it complete and records it as prepared.
    /// `hardlink`: the release is hard links into the host's pristine checkout,
    /// whose new files the prepare flushed.
    pub fn mark_complete(&self, id: &str, history_entry: String, hardlink: bool) -> Step {
        let script = self.fill(
            scripts::MARK_COMPLETE,
            vec![
                ("release", Value::word(id)),
                ("hardlink", Value::word(if hardlink { "yes" } else { "no" })),
                ("history_entry", Value::Word(history_entry)),
            ],
        );
        self.step(StepKind::MarkComplete, "mark the release complete", script)
    }

    /// Undo of a failed prepare: removes the release unless it is live.
    pub fn remove_release(&self, id: &str) -> Step {
        let script =
            self.fill(scripts::REMOVE_RELEASE, vec![("release", Value::word(id)), ("run", Value::word(self.run))]);
        self.step(StepKind::RemoveRelease, "remove the unfinished release", script)
    }

    pub fn maintenance_on(&self, pages: &MaintenancePages, stay_healthy: bool) -> Step {
        let healthcheck = pages.healthcheck_override.as_deref().filter(|_| stay_healthy);
        let script = self.fill(
            scripts::MAINTENANCE_ON,
            vec![
                ("directory", Value::Word(pages.directory(self.layout))),
                ("healthcheck_page", Value::Content(Script::text(healthcheck.unwrap_or_default()))),
                ("write_healthcheck", Value::word(if healthcheck.is_some() { "yes" } else { "no" })),
                ("upgrade_page", Value::Content(Script::text(&pages.upgrade_message))),
            ],
        );
        let title = if stay_healthy {
            "put up the maintenance page (load balancers stay green)"
        } else {
            "put up the maintenance page"
        };
        self.step(StepKind::MaintenanceOn, title, script)
    }

    pub fn maintenance_off(&self, pages: &MaintenancePages) -> Step {
        let script =
            self.fill(scripts::MAINTENANCE_OFF, vec![("directory", Value::Word(pages.directory(self.layout)))]);
        self.step(StepKind::MaintenanceOff, "take down the maintenance page", script)
    }

    /// Points `current` at a complete release, atomically.
    pub fn switch(&self, release: &ReleaseRef) -> Step {
        let script = self.fill(scripts::SWITCH, vec![("release", release.value())]);
        let title = match release {
            ReleaseRef::Id(id) => format!("switch `current` to {id}"),
            ReleaseRef::Captured(captured) => format!("switch `current` to the {}", captured.describe()),
        };
        let mut step = self.step(StepKind::Switch, title, script);
        step.effect = Effect::SwitchesCurrent;
        step
    }

    /// Arms the host's dead-man's switch: unless confirmed within `seconds`, the
    /// host runs `body` (switch back, restart, unlock) on its own.
    pub fn arm_revert(&self, seconds: u32, body: Script) -> Step {
        let script = self.fill(
            scripts::ARM_REVERT,
            vec![("run", Value::word(self.run)), ("seconds", Value::word(&seconds)), ("body", Value::Content(body))],
        );
        self.step(StepKind::ArmRevert, format!("arm the dead-man's switch ({seconds}s)"), script)
    }

    /// Confirms the deploy (`strict`: fails if the switch already fired) or, in
    /// undo, just disarms it.
    pub fn disarm_revert(&self, strict: bool) -> Step {
        let script = self.fill(
            scripts::DISARM_REVERT,
            vec![("run", Value::word(self.run)), ("strict", Value::word(if strict { "yes" } else { "no" }))],
        );
        let title =
            if strict { "confirm the deploy (disarm the dead-man's switch)" } else { "disarm the dead-man's switch" };
        self.step(StepKind::DisarmRevert, title, script)
    }

    /// Undo of a switch to `release`: back to what `current` pointed at before.
    pub fn switch_back(&self, release: &ReleaseRef) -> Step {
        let script = self.fill(scripts::SWITCH_BACK, vec![("release", release.value())]);
        let mut step = self.step(StepKind::SwitchBack, "switch `current` back to the previous release", script);
        step.effect = Effect::RestoresCurrent;
        step
    }

    pub fn restart(&self, role: &str, restart: &[String]) -> Step {
        let script =
            scripts::RESTART.fill(self.layout, vec![("environment", Value::word(self.environment))], commands(restart));
        self.step(StepKind::Restart, format!("restart (`{role}`)"), script)
    }

    /// A named task's commands, run like a restart: in `current`, with the live
    /// release's facts, within the task's own time limit.
    pub fn task(&self, name: &str, commands: &[String], timeout: u32) -> Step {
        let script = scripts::RESTART.fill(
            self.layout,
            vec![("environment", Value::word(self.environment))],
            self::commands(commands),
        );
        let mut step = self.step(StepKind::Command, format!("task `{name}`"), script);
        step.timeout = timeout;
        step
    }

    /// A hook's command on a host, with the deploy's facts, within its own time limit.
    /// `facts`: every host of the run, space-separated, and the outcome (for hooks
    /// that run after it, else empty).
    pub fn hook(&self, point: &str, release: (&str, &str), facts: (&str, &str), command: &str, timeout: u32) -> Step {
        let (id, commit) = release;
        let (hosts, outcome) = facts;
        let script = scripts::HOOK.fill(
            self.layout,
            vec![
                ("release", Value::word(id)),
                ("commit", Value::word(commit)),
                ("environment", Value::word(self.environment)),
                ("hook", Value::word(point)),
                ("run", Value::word(self.run)),
                ("hosts", Value::word(hosts)),
                ("outcome", Value::word(outcome)),
            ],
            commands(&[command.to_owned()]),
        );
        let mut step = self.step(StepKind::Hook, format!("hook `{point}`: {}", one_line(command)), script);
        step.timeout = timeout;
        step
    }

    /// A rollout's drain or undrain command, run like a restart: in `current`,
    /// with the live release's facts.
    pub fn drain(&self, undrain: bool, command: &str) -> Step {
        let script = scripts::RESTART.fill(
            self.layout,
            vec![("environment", Value::word(self.environment))],
            commands(&[command.to_owned()]),
        );
        if undrain {
            self.step(StepKind::Undrain, "put the host back in service (undrain)", script)
        } else {
            self.step(StepKind::Drain, "take the host out of service (drain)", script)
        }
    }

    pub fn health_check(&self, role: &str, check: &HealthCheck) -> Step {
        let script = self.fill(
            scripts::HEALTH_CHECK,
            vec![
                ("environment", Value::word(self.environment)),
                ("check_command", Value::word(&check.command)),
                ("check_timeout", Value::word(&check.timeout)),
                ("retries", Value::word(&check.retries)),
                ("interval", Value::word(&check.interval)),
            ],
        );
        let mut step = self.step(StepKind::HealthCheck, format!("health check (`{role}`)"), script);
        // The configuration bounds each number; saturating keeps any mix safe anyway.
        step.timeout = check
            .retries
            .saturating_add(1)
            .saturating_mul(check.timeout.saturating_add(check.interval))
            .saturating_add(10);
        step
    }

    /// Appends `entry` (a history line, possibly with a captured release) to the history.
    pub fn record_history(&self, title: &str, entry: Script) -> Step {
        let script = self.fill(scripts::RECORD_HISTORY, vec![("history_entry", Value::Content(entry))]);
        self.step(StepKind::RecordHistory, title, script)
    }

    /// Keeps `keep` complete releases, never `current`, the previous one or `id`.
    /// The others leave releases/ at once and are deleted in the background.
    pub fn prune(&self, keep: u32, id: &str) -> Step {
        let script = self.fill(
            scripts::PRUNE,
            vec![("run", Value::word(self.run)), ("keep", Value::word(&keep)), ("keep_also", Value::word(id))],
        );
        self.step(StepKind::Prune, format!("keep the newest {keep} complete releases"), script)
    }

    /// Writes each secret to `secrets/<name>`; the values travel inside the script.
    pub fn upload_secrets(&self, names: &[String]) -> Step {
        let mut args = Vec::with_capacity(names.len() * 2);
        for name in names {
            let mut value = Script::new();
            value.push_secret(name.clone());
            args.push(Value::word(name));
            args.push(Value::Content(value));
        }
        let script = scripts::UPLOAD_SECRETS.fill(self.layout, vec![], args);
        self.step(StepKind::UploadSecrets, format!("upload {} secret(s)", names.len()), script)
    }

    /// Reports the host's releases, history and lock (`protocol::report`), for
    /// `status` and for choosing a rollback target.
    pub fn report_state(&self, kind: StepKind, title: &str, maintenance: &StaticHtml) -> Step {
        let page = format!("{}/503.html", maintenance_directory(maintenance, self.layout));
        self.step(kind, title, self.fill(scripts::REPORT_STATE, vec![("maintenance_page", Value::Word(page))]))
    }

    /// Removes the lock only if `id` holds it; otherwise shows the holder and fails.
    pub fn release_lock(&self, id: &str) -> Step {
        let script = self.fill(scripts::RELEASE_LOCK, vec![("owner_line", Value::Word(id_line(id)))]);
        let mut step = self.step(StepKind::ReleaseLock, "release the lock if this id holds it", script);
        step.effect = Effect::ReleasesLock;
        step
    }

    pub fn command(&self, command: &str) -> Step {
        let script = scripts::COMMAND.fill(self.layout, vec![], vec![Value::word(command)]);
        self.step(StepKind::Command, "run the command", script)
    }
}

/// Which release a switch points at.
#[derive(Debug, Clone)]
pub(crate) enum ReleaseRef {
    Id(String),
    /// A value captured from the hosts earlier in the run (the rollback target).
    Captured(Captured),
}

impl ReleaseRef {
    fn value(&self) -> Value {
        match self {
            Self::Id(id) => Value::word(id),
            Self::Captured(captured) => Value::Captured(*captured),
        }
    }
}

/// The maintenance pages' contents and where they go.
pub(crate) struct MaintenancePages {
    pub upgrade_message: String,
    pub healthcheck_override: Option<String>,
    pub settings: StaticHtml,
}

impl MaintenancePages {
    fn directory(&self, layout: &Layout) -> String {
        maintenance_directory(&self.settings, layout)
    }
}

/// Where the maintenance pages go: `static_html.directory`, relative to the deploy
/// root unless absolute.
fn maintenance_directory(settings: &StaticHtml, layout: &Layout) -> String {
    let directory = settings.directory.as_str();
    if directory.starts_with('/') { directory.to_owned() } else { layout.root_path().join(directory).to_string() }
}

/// Text that becomes a file must arrive byte-exact: a NUL cannot pass through a
/// shell word.
fn check_content(path: &str, content: &Script) -> Result<(), PlanError> {
    let has_nul = content.parts().iter().any(|part| matches!(part, crate::Part::Text(text) if text.contains('\0')));
    if has_nul {
        return Err(PlanError::Unsafe(format!("the content for `{path}` contains a NUL byte")));
    }
    Ok(())
}

pub(crate) fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

/// A command as a title: its first line, shortened.
fn one_line(command: &str) -> String {
    let first = command.lines().next().unwrap_or_default().trim();
    let short: String = first.chars().take(60).collect();
    if short.len() < first.len() || command.trim().lines().count() > 1 {
        format!("`{short}...`")
    } else {
        format!("`{short}`")
    }
}
