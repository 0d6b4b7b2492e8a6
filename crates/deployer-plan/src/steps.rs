//! The script of every step. Each builder takes validated values and quotes every
//! one of them with [`q`]; user commands from the configuration are the only text
//! inserted as shell code, and they run with standard input closed (the script
//! itself arrives on standard input).

use std::fmt::Write;

use deployer_config::{HealthCheck, StaticHtml};

use crate::error::PlanError;
use crate::layout::{Layout, q};
use crate::model::{Step, StepKind};
use crate::script::{Part, Script};

/// Ends every here-document deployer writes. The planner refuses template text
/// that contains it on a line; the executor does the same for secret values.
pub const HEREDOC_END: &str = "DEPLOYER_END_OF_FILE_7c3e91";

/// Exit status of a lock step that found the lock held (EX_TEMPFAIL).
pub const LOCK_HELD_STATUS: i32 = 75;

/// The lock owner record, written into the lock directory.
pub(crate) struct Owner<'a> {
    pub deploy_id: &'a str,
    pub user: &'a str,
    pub controller: &'a str,
    pub pid: u32,
    pub command: &'a str,
    pub started_at: &'a str,
}

pub(crate) struct StepBuilder<'a> {
    pub layout: &'a Layout,
    pub timeout: u32,
    pub environment: &'a str,
}

impl StepBuilder<'_> {
    fn step(&self, kind: StepKind, title: impl Into<String>, script: Script) -> Step {
        Step { kind, title: title.into(), timeout: self.timeout, script }
    }

    pub fn check_connection(&self) -> Step {
        self.step(StepKind::CheckConnection, "check the host answers", Script::text("uname -n\n"))
    }

    pub fn create_layout(&self, shared_dirs: &[String], shared_files: &[String]) -> Step {
        let layout = self.layout;
        let mut text = format!(
            "mkdir -p -- {} {} {} {}\numask 077\nmkdir -p -- {}\nchmod 700 -- {}\n",
            layout.at("releases"),
            layout.at("shared"),
            layout.at(".deployer/complete"),
            layout.root(),
            layout.at("secrets"),
            layout.at("secrets"),
        );
        for dir in shared_dirs {
            let _ = writeln!(text, "mkdir -p -- {}", layout.at(&format!("shared/{dir}")));
        }
        for file in shared_files {
            let path = format!("shared/{file}");
            if let Some((parent, _)) = path.rsplit_once('/') {
                let _ = writeln!(text, "mkdir -p -- {}", layout.at(parent));
            }
            // An empty file to start from; never overwrite one that exists.
            let _ = writeln!(text, "[ -e {0} ] || : > {0}", layout.at(&path));
        }
        self.step(StepKind::CreateLayout, "create the directory layout and shared files", Script::text(text))
    }

    pub fn setup(&self, role: &str, commands: &[String]) -> Step {
        let mut text = String::new();
        for command in commands {
            let _ = writeln!(text, "( cd -- {} && {command}\n) </dev/null", self.layout.root());
        }
        self.step(StepKind::Setup, format!("run the `{role}` setup commands"), Script::text(text))
    }

    pub fn lock(&self, owner: &Owner<'_>) -> Step {
        let layout = self.layout;
        let lock = layout.at(".deployer/lock");
        let record = [
            format!("id={}", owner.deploy_id),
            format!("user={}", owner.user),
            format!("controller={}", owner.controller),
            format!("pid={}", owner.pid),
            format!("command={}", owner.command),
            format!("started={}", owner.started_at),
        ]
        .iter()
        .map(|line| q(line))
        .collect::<Vec<_>>()
        .join(" ");
        // A lock that cannot be created (disk full, no inodes, read-only) is an
        // error, not "held"; a lock whose owner record cannot be written is removed
        // again, or nobody could ever prove it theirs.
        let text = format!(
            "mkdir -p -- {dir}\n\
             if problem=$(mkdir -- {lock} 2>&1); then\n\
             \x20 if ! printf '%s\\n' {record} > {owner}; then\n\
             \x20   rm -rf -- {lock}\n\
             \x20   echo 'deployer: cannot write the lock owner record' >&2\n\
             \x20   exit 1\n\
             \x20 fi\n\
             elif [ -d {lock} ]; then\n\
             \x20 echo 'deployer: the environment is locked by another run:' >&2\n\
             \x20 cat -- {owner} >&2 2>/dev/null || echo '(no owner record yet)' >&2\n\
             \x20 exit {status}\n\
             else\n\
             \x20 printf 'deployer: cannot take the lock: %s\\n' \"$problem\" >&2\n\
             \x20 exit 1\n\
             fi\n",
            dir = layout.at(".deployer"),
            owner = layout.at(".deployer/lock/owner"),
            status = LOCK_HELD_STATUS,
        );
        self.step(StepKind::Lock, "take the environment lock", Script::text(text))
    }

    /// Releases the lock only if this run holds it: a lock held by someone else is
    /// never removed.
    pub fn unlock(&self, deploy_id: &str) -> Step {
        let layout = self.layout;
        let text = format!(
            "if grep -qxF -- {id} {owner} 2>/dev/null; then\n\
             \x20 rm -rf -- {lock}\n\
             fi\n",
            id = q(&format!("id={deploy_id}")),
            owner = layout.at(".deployer/lock/owner"),
            lock = layout.at(".deployer/lock"),
        );
        self.step(StepKind::Unlock, "release the environment lock", Script::text(text))
    }

    /// Fetches the pinned commit into the host's mirror (cloning it the first time)
    /// and extracts it into `releases/<id>`.
    pub fn prepare_release(&self, repo: &str, commit: &str, id: &str) -> Step {
        let layout = self.layout;
        let release = layout.release(id);
        let mirror = layout.at("repo");
        let partial = layout.at("repo.partial");
        let archive = layout.at(&format!("releases/.{id}.tar"));
        let text = format!(
            "mkdir -p -- {releases} {shared} {complete}\n\
             if [ -e {marker} ]; then echo 'deployer: release {id} already exists' >&2; exit 1; fi\n\
             if [ ! -d {mirror} ]; then\n\
             \x20 rm -rf -- {partial}\n\
             \x20 git clone --mirror --quiet -- {repo} {partial}\n\
             \x20 mv -- {partial} {mirror}\n\
             fi\n\
             if ! git -C {mirror} cat-file -e {object} 2>/dev/null; then\n\
             \x20 git -C {mirror} fetch --quiet --prune -- {repo} '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'\n\
             fi\n\
             git -C {mirror} cat-file -e {object} || {{ echo 'deployer: commit {commit} is not in {repo_shown}' >&2; exit 1; }}\n\
             rm -rf -- {release} {archive}\n\
             mkdir -- {release}\n\
             git -C {mirror} archive --format=tar --output={archive} --end-of-options {commit}\n\
             tar -x -f {archive} -C {release}\n\
             rm -f -- {archive}\n",
            releases = layout.at("releases"),
            shared = layout.at("shared"),
            complete = layout.at(".deployer/complete"),
            marker = layout.marker(id),
            repo = q(repo),
            repo_shown = q(repo).replace('\'', ""),
            object = q(&format!("{commit}^{{commit}}")),
        );
        self.step(StepKind::PrepareRelease, format!("fetch {} and extract it", short(commit)), Script::text(text))
    }

    pub fn link_shared(&self, id: &str, dirs: &[String], files: &[String]) -> Option<Step> {
        if dirs.is_empty() && files.is_empty() {
            return None;
        }
        let layout = self.layout;
        let mut text = String::new();
        for dir in dirs {
            let _ = writeln!(text, "mkdir -p -- {}", layout.at(&format!("shared/{dir}")));
            text.push_str(&self.link_into_release(id, dir));
        }
        for file in files {
            let shared = layout.at(&format!("shared/{file}"));
            let _ = writeln!(
                text,
                "[ -e {shared} ] || {{ echo {message} >&2; exit 1; }}",
                message = q(&format!(
                    "deployer: shared file shared/{file} does not exist; create it (create_environment does)"
                )),
            );
            text.push_str(&self.link_into_release(id, file));
        }
        Some(self.step(StepKind::LinkShared, "link shared files and directories", Script::text(text)))
    }

    fn link_into_release(&self, id: &str, relative: &str) -> String {
        let layout = self.layout;
        let target = layout.at(&format!("releases/{id}/{relative}"));
        let mut text = self.refuse_symlinked_parents(id, relative);
        if let Some((parent, _)) = relative.rsplit_once('/') {
            let _ = writeln!(text, "mkdir -p -- {}", layout.at(&format!("releases/{id}/{parent}")));
        }
        let _ = writeln!(text, "rm -rf -- {target}");
        let _ = writeln!(text, "ln -s -- {} {target}", layout.at(&format!("shared/{relative}")));
        text
    }

    /// A release comes from the repository, which may contain symlinks: writing
    /// through one could escape the release directory. Refuse if any parent
    /// directory of `relative` inside the release is a symlink.
    fn refuse_symlinked_parents(&self, id: &str, relative: &str) -> String {
        let mut text = String::new();
        let mut prefix = String::new();
        let components: Vec<&str> = relative.split('/').collect();
        for component in &components[..components.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(component);
            let path = self.layout.at(&format!("releases/{id}/{prefix}"));
            let message = q(&format!("deployer: {prefix} in the release is a symlink; refusing to write through it"));
            let _ = writeln!(text, "if [ -L {path} ]; then echo {message} >&2; exit 1; fi");
        }
        text
    }

    /// Writes `content` to `dest` (relative to the release) through a temporary file
    /// and a rename, with `mode`.
    pub fn render_template(&self, id: &str, dest: &str, content: Script, mode: u32) -> Result<Step, PlanError> {
        let mut script = Script::text(self.refuse_symlinked_parents(id, dest));
        if let Some((parent, _)) = dest.rsplit_once('/') {
            script.push_text(format!("mkdir -p -- {}\n", self.layout.at(&format!("releases/{id}/{parent}"))));
        }
        let final_path = self.layout.release_path(id).join(dest);
        script.extend(write_file(final_path.as_str(), content, mode)?);
        Ok(self.step(StepKind::RenderTemplate, format!("render {dest}"), script))
    }

    pub fn build(&self, id: &str, commit: &str, environment: &str, role: &str, commands: &[String]) -> Step {
        let text = self.run_commands(&self.layout.release(id), id, commit, environment, commands);
        self.step(StepKind::Build, format!("build (`{role}`)"), Script::text(text))
    }

    fn run_commands(&self, directory: &str, id: &str, commit: &str, environment: &str, commands: &[String]) -> String {
        let mut text = format!(
            "export DEPLOYER_RELEASE={} DEPLOYER_RELEASE_DIR={} DEPLOYER_COMMIT={} DEPLOYER_ENVIRONMENT={}\n",
            q(id),
            self.layout.release(id),
            q(commit),
            q(environment),
        );
        for command in commands {
            // The closing parenthesis goes on its own line so a trailing comment in
            // the command cannot swallow it.
            let _ = writeln!(text, "( cd -- {directory} && {command}\n) </dev/null");
        }
        text
    }

    /// Flushes the release to disk, then marks it complete: only complete releases
    /// can become `current`.
    pub fn mark_complete(&self, id: &str, history_line: &str) -> Step {
        let layout = self.layout;
        let text = format!(
            "sync -f -- {release} 2>/dev/null || sync\n\
             : > {marker}\n\
             sync -- {complete} 2>/dev/null || true\n\
             printf '%s\\n' {line} >> {history}\n",
            release = layout.release(id),
            marker = layout.marker(id),
            complete = layout.at(".deployer/complete"),
            line = q(history_line),
            history = layout.at(".deployer/history"),
        );
        self.step(StepKind::MarkComplete, "mark the release complete", Script::text(text))
    }

    /// Undo of a failed prepare: removes the release unless it is live.
    pub fn remove_release(&self, id: &str) -> Step {
        let layout = self.layout;
        let text = format!(
            "if [ \"$(readlink -- {current} 2>/dev/null || true)\" != {path} ]; then\n\
             \x20 rm -f -- {marker}\n\
             \x20 rm -rf -- {release} {archive}\n\
             fi\n",
            current = layout.at("current"),
            path = q(layout.release_path(id).as_str()),
            marker = layout.marker(id),
            release = layout.release(id),
            archive = layout.at(&format!("releases/.{id}.tar")),
        );
        self.step(StepKind::RemoveRelease, "remove the unfinished release", Script::text(text))
    }

    pub fn maintenance_on(&self, pages: &MaintenancePages, stay_healthy: bool) -> Result<Step, PlanError> {
        let directory = pages.directory(self.layout);
        let mut script = Script::text(format!("mkdir -p -- {}\n", q(&directory)));
        // The health-check override goes up first, so a load balancer never sees the 503.
        if stay_healthy && let Some(page) = &pages.healthcheck_override {
            script.extend(write_file(&format!("{directory}/healthcheck.html"), Script::text(page), 0o644)?);
        }
        script.extend(write_file(&format!("{directory}/503.html"), Script::text(&pages.upgrade_message), 0o644)?);
        let title = if stay_healthy {
            "put up the maintenance page (load balancers stay green)"
        } else {
            "put up the maintenance page"
        };
        Ok(self.step(StepKind::MaintenanceOn, title, script))
    }

    pub fn maintenance_off(&self, pages: &MaintenancePages) -> Step {
        let directory = pages.directory(self.layout);
        let text = format!(
            "rm -f -- {}\nrm -f -- {}\n",
            q(&format!("{directory}/503.html")),
            q(&format!("{directory}/healthcheck.html"))
        );
        self.step(StepKind::MaintenanceOff, "take down the maintenance page", Script::text(text))
    }

    pub fn migrate(&self, id: &str, commit: &str, environment: &str, commands: &[String]) -> Step {
        let text = self.run_commands(&self.layout.release(id), id, commit, environment, commands);
        self.step(StepKind::Migrate, "run the migrations (once)", Script::text(text))
    }

    /// Points `current` at a complete release: a new link under a temporary name,
    /// then a rename over `current`. Readers always see the old or the new release.
    pub fn switch(&self, release: &ReleaseRef) -> Step {
        let layout = self.layout;
        let mut script = Script::text("release=");
        release.push_quoted(&mut script);
        script.push_text(format!(
            "\n[ -e {complete}/\"$release\" ] || {{ echo \"deployer: release $release is not complete on this host\" >&2; exit 1; }}\n\
             previous=$(readlink -- {current} 2>/dev/null || true)\n\
             printf '%s\\n' \"${{previous##*/}}\" > {previous_tmp}\n\
             mv -f -- {previous_tmp} {previous_file}\n\
             rm -f -- {link_tmp}\n\
             ln -s -- {releases}/\"$release\" {link_tmp}\n\
             mv -T -- {link_tmp} {current}\n\
             sync -- {root} 2>/dev/null || true\n",
            complete = layout.at(".deployer/complete"),
            current = layout.at("current"),
            previous_tmp = layout.at(".deployer/previous.tmp"),
            previous_file = layout.at(".deployer/previous"),
            link_tmp = layout.at(".current.deployer-tmp"),
            releases = q(layout.root_path().join("releases").as_str()),
            root = layout.root(),
        ));
        let title = match release {
            ReleaseRef::Id(id) => format!("switch `current` to {id}"),
            ReleaseRef::Captured(name) => format!("switch `current` to the {}", name.replace('_', " ")),
        };
        self.step(StepKind::Switch, title, script)
    }

    /// Undo of a switch: back to what `current` pointed at before it.
    /// Undo of a switch to `release`: only a host that is on `release` goes back to
    /// what `current` pointed at before (or to no release, after a first deploy). A
    /// host whose switch never happened is left alone.
    pub fn switch_back(&self, release: &ReleaseRef) -> Step {
        let layout = self.layout;
        let mut script = Script::text("release=");
        release.push_quoted(&mut script);
        script.push_text(format!(
            "\nif [ \"$(readlink -- {current} 2>/dev/null || true)\" != {releases}/\"$release\" ]; then exit 0; fi\n\
             previous=$(cat -- {previous_file} 2>/dev/null || true)\n\
             if [ -n \"$previous\" ] && [ \"$previous\" != \"$release\" ] && [ -e {complete}/\"$previous\" ]; then\n\
             \x20 rm -f -- {link_tmp}\n\
             \x20 ln -s -- {releases}/\"$previous\" {link_tmp}\n\
             \x20 mv -T -- {link_tmp} {current}\n\
             else\n\
             \x20 rm -f -- {current}\n\
             fi\n\
             sync -- {root} 2>/dev/null || true\n",
            previous_file = layout.at(".deployer/previous"),
            complete = layout.at(".deployer/complete"),
            link_tmp = layout.at(".current.deployer-tmp"),
            releases = q(layout.root_path().join("releases").as_str()),
            current = layout.at("current"),
            root = layout.root(),
        ));
        self.step(StepKind::SwitchBack, "switch `current` back to the previous release", script)
    }

    /// The variables build and migrate commands get, for commands that run in
    /// `current` (restart, health check): taken from what `current` points at when
    /// the step runs, so they are right after a switch back too.
    fn live_release_variables(&self) -> String {
        format!(
            "release_dir=$(readlink -- {current} 2>/dev/null || true)\n\
             export DEPLOYER_RELEASE=\"${{release_dir##*/}}\" DEPLOYER_RELEASE_DIR=\"$release_dir\" DEPLOYER_ENVIRONMENT={environment}\n",
            current = self.layout.at("current"),
            environment = q(self.environment),
        )
    }

    pub fn restart(&self, role: &str, commands: &[String]) -> Step {
        let mut text = self.live_release_variables();
        for command in commands {
            let _ = writeln!(text, "( cd -- {} && {command}\n) </dev/null", self.layout.at("current"));
        }
        self.step(StepKind::Restart, format!("restart (`{role}`)"), Script::text(text))
    }

    pub fn health_check(&self, role: &str, check: &HealthCheck) -> Step {
        let text = self.live_release_variables()
            + &format!(
                "attempt=1\n\
             until ( cd -- {current} && timeout {timeout} sh -c {command} ) </dev/null; do\n\
             \x20 if [ \"$attempt\" -gt {retries} ]; then\n\
             \x20   echo {message} >&2\n\
             \x20   exit 1\n\
             \x20 fi\n\
             \x20 attempt=$((attempt + 1))\n\
             \x20 sleep {interval}\n\
             done\n",
                current = self.layout.at("current"),
                timeout = check.timeout,
                command = q(&check.command),
                retries = check.retries,
                interval = check.interval,
                message = q(&format!("deployer: health check failed {} time(s)", check.retries + 1)),
            );
        let mut step = self.step(StepKind::HealthCheck, format!("health check (`{role}`)"), Script::text(text));
        step.timeout = (check.retries + 1) * (check.timeout + check.interval) + 10;
        step
    }

    pub fn record_history(&self, line: &str) -> Step {
        let text = format!("printf '%s\\n' {} >> {}\n", q(line), self.layout.at(".deployer/history"));
        self.step(StepKind::RecordHistory, "record the deploy in the history", Script::text(text))
    }

    /// Keeps `keep` complete releases; removes unfinished ones first; never removes
    /// `current`, the previous release or the last release deployed successfully.
    pub fn prune(&self, keep: u32) -> Step {
        let layout = self.layout;
        let text = format!(
            "current=$(readlink -- {current} 2>/dev/null || true); current=${{current##*/}}\n\
             previous=$(cat -- {previous} 2>/dev/null || true)\n\
             good=$(awk -F '\\t' '$5 == \"deployed\" {{ good = $1 }} END {{ print good }}' {history} 2>/dev/null || true)\n\
             cd -- {releases}\n\
             set --\n\
             for release in *; do\n\
             \x20 [ -d \"$release\" ] || continue\n\
             \x20 if [ ! -e {complete}/\"$release\" ] && [ \"$release\" != \"$current\" ]; then set -- \"$@\" \"$release\"; fi\n\
             done\n\
             if [ \"$#\" -gt 0 ]; then rm -rf -- \"$@\"; fi\n\
             ls -1 | sort -r | {{\n\
             \x20 count=0\n\
             \x20 set --\n\
             \x20 while IFS= read -r release; do\n\
             \x20   [ -e {complete}/\"$release\" ] || continue\n\
             \x20   count=$((count + 1))\n\
             \x20   [ \"$count\" -gt {keep} ] || continue\n\
             \x20   case \"$release\" in \"$current\"|\"$previous\"|\"$good\") continue ;; esac\n\
             \x20   set -- \"$@\" \"$release\"\n\
             \x20 done\n\
             \x20 # One rm for all (not one process per release): thousands of old releases prune fast.\n\
             \x20 if [ \"$#\" -gt 0 ]; then\n\
             \x20   rm -rf -- \"$@\"\n\
             \x20   (cd -- {complete} && rm -f -- \"$@\")\n\
             \x20 fi\n\
             }}\n",
            current = layout.at("current"),
            previous = layout.at(".deployer/previous"),
            history = layout.at(".deployer/history"),
            releases = layout.at("releases"),
            complete = layout.at(".deployer/complete"),
        );
        self.step(StepKind::Prune, format!("keep the newest {keep} complete releases"), Script::text(text))
    }

    /// Writes each secret to `secrets/<name>`, 0600 in a 0700 directory, through a
    /// temporary file and a rename. The values travel inside the script on stdin.
    pub fn upload_secrets(&self, names: &[String]) -> Result<Step, PlanError> {
        let directory = self.layout.root_path().join("secrets");
        let mut script = Script::text(format!("umask 077\nmkdir -p -- {0}\nchmod 700 -- {0}\n", q(directory.as_str())));
        for name in names {
            let mut content = Script::new();
            content.push_secret(name.clone());
            script.extend(write_file(directory.join(name).as_str(), content, 0o600)?);
        }
        Ok(self.step(StepKind::UploadSecrets, format!("upload {} secret(s)", names.len()), script))
    }

    /// Finds the release to roll back to: `to`, or the newest release deployed
    /// before the current one, according to this host's history.
    pub fn choose_rollback_target(&self, to: Option<&str>) -> Step {
        let layout = self.layout;
        let choose = match to {
            Some(id) => format!("target={}\n", q(id)),
            None => format!(
                "target=$(awk -F '\\t' -v current=\"$current\" '$5 == \"deployed\" && $1 < current {{ target = $1 }} END {{ print target }}' {history} 2>/dev/null || true)\n\
                 [ -n \"$target\" ] || {{ echo 'deployer: no release was deployed before the current one' >&2; exit 1; }}\n",
                history = layout.at(".deployer/history"),
            ),
        };
        let text = format!(
            "current=$(readlink -- {current} 2>/dev/null || true); current=${{current##*/}}\n\
             {choose}\
             if [ ! -d {releases}/\"$target\" ] || [ ! -e {complete}/\"$target\" ]; then\n\
             \x20 echo \"deployer: release $target is not on this host, or not complete\" >&2\n\
             \x20 exit 1\n\
             fi\n\
             migrations=$(awk -F '\\t' -v target=\"$target\" -v current=\"$current\" '$5 == \"deployed\" && $1 > target && $1 <= current && $6 == \"migrate=yes\" {{ found = \"yes\" }} END {{ print found ? found : \"no\" }}' {history} 2>/dev/null || echo unknown)\n\
             echo \"DEPLOYER-CAPTURE rollback_target=$target\"\n\
             echo \"DEPLOYER-CAPTURE migrations_since_target=$migrations\"\n",
            current = layout.at("current"),
            releases = q(layout.root_path().join("releases").as_str()),
            complete = layout.at(".deployer/complete"),
            history = layout.at(".deployer/history"),
        );
        self.step(StepKind::ChooseRollbackTarget, "find the release to roll back to", Script::text(text))
    }

    /// Prints `DEPLOYER-STATUS key=value` lines: the live and previous release,
    /// the live commit, the number of complete releases, and the lock's owner.
    pub fn read_status(&self) -> Step {
        let layout = self.layout;
        let text = format!(
            "current=$(readlink -- {current} 2>/dev/null || true); current=${{current##*/}}\n\
             echo \"DEPLOYER-STATUS current=$current\"\n\
             echo \"DEPLOYER-STATUS previous=$(cat -- {previous} 2>/dev/null || true)\"\n\
             echo \"DEPLOYER-STATUS commit=$(awk -F '\\t' -v id=\"$current\" '$1 == id && $2 != \"-\" {{ commit = $2 }} END {{ print commit }}' {history} 2>/dev/null || true)\"\n\
             echo \"DEPLOYER-STATUS releases=$(ls -1 -- {complete} 2>/dev/null | wc -l)\"\n\
             if [ -d {lock} ]; then\n\
             \x20 echo 'DEPLOYER-STATUS lock=held'\n\
             \x20 sed 's/^/DEPLOYER-STATUS lock_/' {owner} 2>/dev/null || true\n\
             else\n\
             \x20 echo 'DEPLOYER-STATUS lock=free'\n\
             fi\n",
            current = layout.at("current"),
            previous = layout.at(".deployer/previous"),
            history = layout.at(".deployer/history"),
            complete = layout.at(".deployer/complete"),
            lock = layout.at(".deployer/lock"),
            owner = layout.at(".deployer/lock/owner"),
        );
        self.step(StepKind::ReadStatus, "read releases, history and lock", Script::text(text))
    }

    /// Removes the lock only if `id` holds it; otherwise shows the holder and fails.
    pub fn release_lock(&self, id: &str) -> Step {
        let layout = self.layout;
        let text = format!(
            "if [ ! -d {lock} ]; then echo 'deployer: no lock is held'; exit 0; fi\n\
             if grep -qxF -- {id} {owner} 2>/dev/null; then\n\
             \x20 rm -rf -- {lock}\n\
             \x20 echo 'deployer: lock released'\n\
             else\n\
             \x20 echo 'deployer: refused: the lock is held by another run:' >&2\n\
             \x20 cat -- {owner} >&2 2>/dev/null || echo '(no owner record)' >&2\n\
             \x20 exit 1\n\
             fi\n",
            lock = layout.at(".deployer/lock"),
            owner = layout.at(".deployer/lock/owner"),
            id = q(&format!("id={id}")),
        );
        self.step(StepKind::ReleaseLock, "release the lock if this id holds it", Script::text(text))
    }

    pub fn command(&self, command: &str) -> Step {
        self.step(StepKind::Command, "run the command", Script::text(format!("( {command}\n) </dev/null\n")))
    }
}

/// Which release a switch points at.
#[derive(Debug, Clone)]
pub(crate) enum ReleaseRef {
    Id(String),
    /// A value captured from the hosts earlier in the run (the rollback target).
    Captured(String),
}

impl ReleaseRef {
    fn push_quoted(&self, script: &mut Script) {
        match self {
            Self::Id(id) => script.push_text(q(id)),
            Self::Captured(name) => script.push_variable(name.clone()),
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
        let directory = self.settings.directory.as_str();
        if directory.starts_with('/') { directory.to_owned() } else { layout.root_path().join(directory).to_string() }
    }
}

/// A script writing `content` to `path` with `mode`: a here-document into a
/// temporary file in the same directory, then a rename, so readers never see a
/// partial file and a crash leaves the old one.
pub(crate) fn write_file(path: &str, content: Script, mode: u32) -> Result<Script, PlanError> {
    for part in content.parts() {
        if let Part::Text(text) = part {
            if text.lines().any(|line| line == HEREDOC_END) {
                return Err(PlanError::Unsafe(format!("the content for `{path}` contains the line `{HEREDOC_END}`")));
            }
            if text.contains('\0') {
                return Err(PlanError::Unsafe(format!("the content for `{path}` contains a NUL byte")));
            }
        }
    }
    let (directory, name) = path.rsplit_once('/').unwrap_or((".", path));
    let temporary = q(&format!("{directory}/.{name}.deployer-tmp"));
    let ends_with_newline = matches!(content.parts().last(), Some(Part::Text(text)) if text.ends_with('\n'));
    let mut script = Script::text(format!("rm -f -- {temporary}\n( umask 077; cat > {temporary} <<'{HEREDOC_END}'\n"));
    script.extend(content);
    // A here-document always ends with a newline; remove the one we added.
    if ends_with_newline {
        script.push_text(format!("{HEREDOC_END}\n)\n"));
    } else {
        script.push_text(format!("\n{HEREDOC_END}\n)\ntruncate -s -1 -- {temporary}\n"));
    }
    script.push_text(format!("chmod {mode:04o} -- {temporary}\nmv -f -- {temporary} {}\n", q(path)));
    Ok(script)
}

pub(crate) fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}
