//! The `push` strategy's controller side: archives of the pinned commit, made
//! here from a private mirror of the repository and sent to the hosts that ask
//! over the deploy's own connections, so hosts need no access to the git server
//! (and no deploy keys).
//!
//! A host asks with what it has (deployer_exec's upload module): nothing, or,
//! with `hardlink_releases`, the commit of its pristine tree. Nothing gets the
//! whole archive; a commit gets a delta (what changed since, and what to
//! remove; deployer_plan::protocol::pushed) when one can be made, and the whole
//! archive when not. Each distinct answer is made once, when the first host
//! asks: a fleet at one commit costs one small delta, and no whole archive.
//! When every host will want the whole archive (without `hardlink_releases`,
//! or in `create_environment`, whose hosts are new), it is made at once,
//! while the hosts connect and lock.
//!
//! The mirror lives in the project's `.deployer/mirror.git` (0700), cloned the
//! first time and fetched only when the commit is missing, like the hosts' own;
//! that happens before any host is contacted.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use camino::{Utf8Path, Utf8PathBuf};
use deployer_config::PushCompression;
use deployer_exec::{Base, FixedUploads, UploadFuture, UploadSource};
use deployer_plan::protocol::pushed;
use deployer_plan::{ARCHIVE_PAYLOAD, Plan};

#[derive(Debug, thiserror::Error)]
pub(crate) enum PushError {
    #[error("cannot run git: {0}")]
    Git(std::io::Error),
    #[error("the push strategy could not {what} ({repo}): {detail}")]
    Failed { what: &'static str, repo: String, detail: String },
    #[error("cannot prepare the push strategy's mirror in {path}: {source}")]
    Directory { path: Utf8PathBuf, source: std::io::Error },
}

/// A delta listing more paths than this (or more bytes of them than
/// [`DELTA_PATH_BYTES`]) is not worth making: the whole archive goes instead.
const DELTA_PATHS: usize = 10_000;
const DELTA_PATH_BYTES: usize = 512 * 1024;

/// The uploads a run's plan asks for: none, or the archive of its commit.
///
/// # Errors
/// When the mirror cannot be made or does not get the commit: before any host
/// is contacted.
pub(crate) fn uploads(
    plan: &Plan,
    (repo, compression, hardlink): (&str, PushCompression, bool),
    directory: &Utf8Path,
) -> Result<Arc<dyn UploadSource>, PushError> {
    let commit = match plan.revision.as_ref() {
        Some(revision) if plan.upload_names().contains(ARCHIVE_PAYLOAD) => revision.commit.clone(),
        _ => return Ok(Arc::new(FixedUploads::default())),
    };
    let mirror = mirror_with(repo, &commit, directory)?;
    // Only a hard-linked host keeps a tree a delta builds on; new hosts have none.
    let guesses = match hardlink && plan.command != "create_environment" {
        true => guesses(plan, directory, &mirror),
        false => HashMap::new(),
    };
    let archives = Archives {
        commit: Arc::new(Commit { repo: repo.to_owned(), commit, compression, mirror }),
        made: Mutex::default(),
        guesses,
    };
    if !hardlink || plan.command == "create_environment" {
        archives.make_at_once(None);
    }
    let guessed: BTreeSet<&String> = archives.guesses.values().collect();
    for guess in guessed {
        archives.make_at_once(Some(guess));
    }
    Ok(Arc::new(archives))
}

/// The commit each of the plan's hosts most likely has as its pristine tree:
/// the commit of the newest run from this machine that shipped to it (the
/// audit log), if the mirror has it. A host deployed to since from elsewhere
/// guesses wrong, and asks.
fn guesses(plan: &Plan, directory: &Utf8Path, mirror: &Utf8Path) -> HashMap<String, String> {
    let hosts: BTreeSet<&str> = plan.hosts.iter().map(|host| host.name.as_str()).collect();
    let entries = crate::audit::read(directory);
    guesses_from(entries, (&plan.deployment, &plan.environment), &hosts, |commit| has_commit(mirror, commit))
}

/// [`guesses`] from the audit log's `entries` (oldest first), for `hosts` of
/// the environment; `known` says whether the mirror has a commit.
fn guesses_from(
    entries: Vec<crate::audit::Entry>,
    (deployment, environment): (&str, &str),
    hosts: &BTreeSet<&str>,
    mut known: impl FnMut(&str) -> bool,
) -> HashMap<String, String> {
    let mut guesses = HashMap::new();
    let mut checked: HashMap<String, bool> = HashMap::new();
    let shipped = entries
        .into_iter()
        .rev()
        .filter(|entry| entry.shipped() && entry.deployment == deployment && entry.environment == environment);
    for entry in shipped {
        let Some(commit) = entry.commit.filter(|commit| deployer_plan::protocol::is_commit(commit)) else { continue };
        if !*checked.entry(commit.clone()).or_insert_with(|| known(&commit)) {
            continue;
        }
        for host in entry.hosts {
            if hosts.contains(host.as_str()) {
                guesses.entry(host).or_insert_with(|| commit.clone());
            }
        }
        if guesses.len() == hosts.len() {
            break;
        }
    }
    guesses
}

/// The commit the run pushes, and where its archives are made from.
#[derive(Debug)]
struct Commit {
    repo: String,
    commit: String,
    compression: PushCompression,
    mirror: Utf8PathBuf,
}

impl Commit {
    /// The archive for a host that has `base`: a delta, or the whole commit.
    fn make(&self, base: Option<&str>) -> Result<Arc<[u8]>, String> {
        let made = match base {
            Some(base) => delta_or_full(&self.mirror, (&self.repo, &self.commit), base, self.compression),
            None => full(&self.mirror, (&self.repo, &self.commit), self.compression),
        };
        made.map(Arc::from).map_err(|error| error.to_string())
    }
}

/// Archives of one commit, each made once and kept for the run.
#[derive(Debug)]
struct Archives {
    commit: Arc<Commit>,
    /// By what the asking host had (`None`: nothing).
    made: Mutex<HashMap<Option<String>, Arc<Made>>>,
    /// By host: the commit it most likely has (see [`guesses`]).
    guesses: HashMap<String, String>,
}

/// One archive: made by the first request for it (or at once, when every host
/// will want it); the others wait for it.
type Made = OnceLock<Result<Arc<[u8]>, String>>;

impl Archives {
    fn cell(&self, base: Option<&str>) -> Arc<Made> {
        Arc::clone(self.made.lock().expect("not poisoned").entry(base.map(str::to_owned)).or_default())
    }

    /// Starts making the archive for `base` on a thread of its own, now.
    fn make_at_once(&self, base: Option<&str>) {
        let (cell, commit, base) = (self.cell(base), Arc::clone(&self.commit), base.map(str::to_owned));
        std::thread::spawn(move || cell.get_or_init(|| commit.make(base.as_deref())).is_ok());
    }
}

impl UploadSource for Archives {
    fn makes(&self, name: &str) -> bool {
        name == ARCHIVE_PAYLOAD
    }

    fn upload<'a>(&'a self, name: &'a str, base: Base<'a>) -> UploadFuture<'a> {
        Box::pin(async move {
            if name != ARCHIVE_PAYLOAD {
                return Err(format!("the upload `{name}` was not made"));
            }
            let (cell, commit) = (self.cell(base), Arc::clone(&self.commit));
            // Made already: no thread to wait on it.
            if let Some(made) = cell.get() {
                return made.clone();
            }
            let base = base.map(str::to_owned);
            // Made, or waited for, off the runtime's threads: git and the
            // compressor block.
            tokio::task::spawn_blocking(move || cell.get_or_init(|| commit.make(base.as_deref())).clone())
                .await
                .unwrap_or_else(|error| Err(format!("making the archive stopped: {error}")))
        })
    }

    fn guess(&self, name: &str, host: &str) -> Option<String> {
        (name == ARCHIVE_PAYLOAD).then(|| self.guesses.get(host).cloned()).flatten()
    }
}

/// The project's private mirror of `repo`, holding `commit`.
fn mirror_with(repo: &str, commit: &str, directory: &Utf8Path) -> Result<Utf8PathBuf, PushError> {
    let state = directory.join(".deployer");
    let mirror = state.join("mirror.git");
    if !mirror.is_dir() {
        private_directory(&state)?;
        let partial = state.join("mirror.git.partial");
        let _ = std::fs::remove_dir_all(&partial);
        git(directory, &["clone", "--mirror", "--quiet", "--", repo, partial.as_str()], "clone the repository", repo)?;
        std::fs::rename(&partial, &mirror).map_err(|source| PushError::Directory { path: mirror.clone(), source })?;
    }
    if !has_commit(&mirror, commit) {
        git(
            &mirror,
            &["fetch", "--quiet", "--prune", "--", repo, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
            "fetch the repository",
            repo,
        )?;
    }
    Ok(mirror)
}

fn has_commit(mirror: &Utf8Path, commit: &str) -> bool {
    git(mirror, &["cat-file", "-e", &format!("{commit}^{{commit}}")], "find the commit", "").is_ok()
}

/// The whole commit: its head line, then the compressed tar. Compressed at
/// level 1: it keeps most of the saving for a fraction of the default level's
/// CPU (gzip: about a second less for 20 MB of source).
fn full(mirror: &Utf8Path, (repo, commit): (&str, &str), compression: PushCompression) -> Result<Vec<u8>, PushError> {
    let mut out = pushed::full_head();
    match compression {
        PushCompression::Gzip => out.extend(git(
            mirror,
            &["archive", "--format=tar.gz", "-1", "--end-of-options", commit],
            "archive the commit",
            repo,
        )?),
        PushCompression::Zstd => {
            let tar =
                git(mirror, &["archive", "--format=tar", "--end-of-options", commit], "archive the commit", repo)?;
            out.extend(compress(&tar, compression, repo)?);
        }
    }
    Ok(out)
}

/// What changed from `base` to the commit, or the whole commit when no delta
/// can be made or would be worth it: `base` unknown here, a change of
/// `.gitattributes` or an `export-subst` anywhere (git archive's output then
/// depends on more than the files that changed), a path with a newline, or too
/// many paths.
fn delta_or_full(
    mirror: &Utf8Path,
    (repo, commit): (&str, &str),
    base: &str,
    compression: PushCompression,
) -> Result<Vec<u8>, PushError> {
    if !has_commit(mirror, base) {
        return full(mirror, (repo, commit), compression);
    }
    let listed = git(
        mirror,
        &["diff-tree", "-r", "-z", "--no-renames", "--name-status", "--end-of-options", base, commit],
        "compare the host's commit with the release's",
        repo,
    )?;
    let Some(changes) = Changes::read(&listed) else { return full(mirror, (repo, commit), compression) };
    let subst = git_finds(
        mirror,
        &["grep", "-q", "-F", "-e", "export-subst", "--end-of-options", commit, "--", "*.gitattributes"],
        repo,
    )?;
    if subst || changes.too_many() || changes.all().any(|path| path.ends_with(".gitattributes")) {
        return full(mirror, (repo, commit), compression);
    }
    let Ok(mut out) = pushed::delta_head(base, &changes.removed) else {
        return full(mirror, (repo, commit), compression);
    };
    let tar = if changes.written.is_empty() {
        // Only removals: an empty tar (two zero blocks, padded to a record).
        vec![0u8; 10240]
    } else {
        // Literal pathspecs: a path is only ever itself, whatever it holds.
        // (No `--`: after --end-of-options, archive would take it for a path.)
        let mut args = vec!["--literal-pathspecs", "archive", "--format=tar", "--end-of-options", commit];
        args.extend(changes.written.iter().copied());
        git(mirror, &args, "archive what changed", repo)?
    };
    out.extend(compress(&tar, compression, repo)?);
    Ok(out)
}

/// Paths that changed between two commits (`git diff-tree -z --name-status`).
struct Changes<'a> {
    /// Gone, or no longer of the same type: removed from the tree first.
    removed: Vec<&'a str>,
    /// Added, changed or of a new type: in the delta's tar.
    written: Vec<&'a str>,
}

impl<'a> Changes<'a> {
    /// `None` for anything but plain UTF-8 paths with the statuses asked for.
    fn read(listed: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(listed).ok()?;
        let mut fields = text.split_terminator('\0');
        let mut changes = Self { removed: Vec::new(), written: Vec::new() };
        while let Some(status) = fields.next() {
            let path = fields.next()?;
            match status {
                "D" => changes.removed.push(path),
                "T" => {
                    changes.removed.push(path);
                    changes.written.push(path);
                }
                "A" | "M" => changes.written.push(path),
                _ => return None,
            }
        }
        Some(changes)
    }

    fn all(&self) -> impl Iterator<Item = &&'a str> {
        self.removed.iter().chain(&self.written)
    }

    fn too_many(&self) -> bool {
        self.removed.len() + self.written.len() > DELTA_PATHS
            || self.all().map(|path| path.len() + 1).sum::<usize>() > DELTA_PATH_BYTES
    }
}

/// `tar` compressed as the configuration says, at level 1.
fn compress(tar: &[u8], compression: PushCompression, repo: &str) -> Result<Vec<u8>, PushError> {
    let failed = |error: std::io::Error| PushError::Failed {
        what: "compress the archive",
        repo: repo.to_owned(),
        detail: error.to_string(),
    };
    match compression {
        PushCompression::Zstd => zstd::encode_all(tar, 1).map_err(failed),
        PushCompression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(tar).map_err(failed)?;
            encoder.finish().map_err(failed)
        }
    }
}

/// Whether `git grep ARGS` in `directory` found something (status 0) or not
/// (status 1); any other status is a failure, not an answer.
fn git_finds(directory: &Utf8Path, args: &[&str], repo: &str) -> Result<bool, PushError> {
    let status = Command::new("git")
        .args(args)
        .current_dir(directory)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(PushError::Git)?;
    match status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(PushError::Failed {
            what: "look for export-subst",
            repo: repo.to_owned(),
            detail: format!("git grep ended with {status}"),
        }),
    }
}

/// `git ARGS` in `directory`; its standard output, or why it failed.
fn git(directory: &Utf8Path, args: &[&str], what: &'static str, repo: &str) -> Result<Vec<u8>, PushError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(directory)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(PushError::Git)?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let detail: Vec<&str> = stderr.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let detail = if detail.is_empty() { "git gave no reason".to_owned() } else { detail.join("; ") };
    Err(PushError::Failed { what, repo: repo.to_owned(), detail })
}

fn private_directory(path: &Utf8Path) -> Result<(), PushError> {
    use std::os::unix::fs::DirBuilderExt;
    let result = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path);
    result.map_err(|source| PushError::Directory { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_in(directory: &Utf8Path, args: &[&str]) -> String {
        let mut all = vec!["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"];
        all.extend_from_slice(args);
        String::from_utf8(git(directory, &all, "test", "test").unwrap()).unwrap().trim().to_owned()
    }

    fn commit_all(directory: &Utf8Path) -> String {
        git_in(directory, &["add", "-A"]);
        git_in(directory, &["commit", "-q", "-m", "c"]);
        git_in(directory, &["rev-parse", "HEAD"])
    }

    /// The paths in an archive's tar.
    fn listed(archive: &[u8]) -> Vec<String> {
        let (_, start) = pushed::Pushed::parse(archive).unwrap();
        let tar = zstd::decode_all(&archive[start..]).unwrap();
        let mut child = Command::new("tar")
            .args(["-t", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&tar).unwrap();
        let output = child.wait_with_output().unwrap();
        String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_delta_holds_what_changed_and_the_whole_archive_comes_when_it_cannot() {
        let directory = tempfile::tempdir().unwrap();
        let repo = Utf8Path::from_path(directory.path()).unwrap();
        git_in(repo, &["init", "-q"]);
        std::fs::write(repo.join("kept.txt"), "kept\n").unwrap();
        std::fs::write(repo.join("changed.txt"), "one\n").unwrap();
        std::fs::write(repo.join("gone.txt"), "gone\n").unwrap();
        let first = commit_all(repo);
        std::fs::write(repo.join("changed.txt"), "two\n").unwrap();
        std::fs::remove_file(repo.join("gone.txt")).unwrap();
        let second = commit_all(repo);
        let zstd = PushCompression::Zstd;
        let delta = delta_or_full(repo, ("r", &second), &first, zstd).unwrap();
        let (head, _) = pushed::Pushed::parse(&delta).unwrap();
        assert_eq!(head, pushed::Pushed::Delta { base: &first, removed: vec!["gone.txt"] });
        assert_eq!(listed(&delta), ["changed.txt"]);
        // Only a removal: an empty tar.
        std::fs::remove_file(repo.join("kept.txt")).unwrap();
        let third = commit_all(repo);
        let delta = delta_or_full(repo, ("r", &third), &second, zstd).unwrap();
        assert!(listed(&delta).is_empty());
        // A commit this mirror does not have, or an export-subst anywhere: whole.
        let unknown = "0".repeat(40);
        let whole = delta_or_full(repo, ("r", &third), &unknown, zstd).unwrap();
        assert_eq!(pushed::Pushed::parse(&whole).unwrap().0, pushed::Pushed::Full);
        assert_eq!(listed(&whole), ["changed.txt"]);
        std::fs::write(repo.join(".gitattributes"), "*.txt export-subst\n").unwrap();
        let fourth = commit_all(repo);
        std::fs::write(repo.join("changed.txt"), "three\n").unwrap();
        let fifth = commit_all(repo);
        let whole = delta_or_full(repo, ("r", &fifth), &fourth, zstd).unwrap();
        assert_eq!(pushed::Pushed::parse(&whole).unwrap().0, pushed::Pushed::Full, "export-subst");
    }

    #[test]
    fn each_host_is_guessed_the_newest_commit_shipped_to_it_that_the_mirror_has() {
        let entry = |environment: &str, commit: &str, result: &str, hosts: &[&str]| crate::audit::Entry {
            v: crate::audit::VERSION,
            at: String::new(),
            deploy_id: String::new(),
            user: String::new(),
            controller: String::new(),
            command: "deploy_full".to_owned(),
            deployment: "app".to_owned(),
            environment: environment.to_owned(),
            commit: Some(commit.to_owned()),
            release: None,
            result: result.to_owned(),
            exit_code: 0,
            duration_ms: 0,
            hosts: hosts.iter().map(|host| (*host).to_owned()).collect(),
        };
        let (a, b, c, gone) = ("a".repeat(40), "b".repeat(40), "c".repeat(40), "d".repeat(40));
        let entries = vec![
            entry("testing", &a, "success", &["h1", "h2", "h3"]),
            entry("testing", &b, "success", &["h1", "h2"]),
            entry("testing", &gone, "success", &["h2"]),
            entry("testing", &c, "failed", &["h1"]),
            entry("staging", &c, "success", &["h1"]),
            entry("testing", "$(reboot)", "success", &["h3"]),
        ];
        let hosts = BTreeSet::from(["h1", "h2", "h3", "h4"]);
        let mut asked = Vec::new();
        let guesses = guesses_from(entries, ("app", "testing"), &hosts, |commit| {
            asked.push(commit.to_owned());
            commit != gone
        });
        let expected =
            HashMap::from([("h1".to_owned(), b.clone()), ("h2".to_owned(), b.clone()), ("h3".to_owned(), a.clone())]);
        assert_eq!(guesses, expected);
        // Each commit looked up once, the refused one never.
        assert_eq!(asked, [gone, b, a]);
    }

    #[test]
    fn changes_split_into_what_goes_and_what_comes() {
        let listed = b"A\0new\0D\0gone/x\0M\0changed\0T\0link\0";
        let changes = Changes::read(listed).unwrap();
        assert_eq!(changes.removed, ["gone/x", "link"]);
        assert_eq!(changes.written, ["new", "changed", "link"]);
        assert!(!changes.too_many());
        assert!(Changes::read(b"R100\0a\0b\0").is_none(), "a rename is not asked for");
        assert!(Changes::read(b"A\0").is_none());
    }
}
