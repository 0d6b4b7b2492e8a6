//! The `push` strategy's controller side: one archive of the pinned commit, made
//! here from a private mirror of the repository and sent to every host over the
//! deploy's own connections, so hosts need no access to the git server (and no
//! deploy keys).
//!
//! The mirror lives in the project's `.deployer/mirror.git` (0700), cloned the
//! first time and fetched only when the commit is missing, like the hosts' own.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};
use deployer_config::PushCompression;
use deployer_plan::{ARCHIVE_PAYLOAD, ARCHIVE_SIZE_PAYLOAD, Plan};

#[derive(Debug, thiserror::Error)]
pub(crate) enum PushError {
    #[error("cannot run git: {0}")]
    Git(std::io::Error),
    #[error("the push strategy could not {what} ({repo}): {detail}")]
    Failed { what: &'static str, repo: String, detail: String },
    #[error("cannot prepare the push strategy's mirror in {path}: {source}")]
    Directory { path: Utf8PathBuf, source: std::io::Error },
}

/// What the controller makes for a run: script inputs (the archive's size)
/// and uploads (the archive itself, sent as raw bytes; see
/// [`deployer_plan::Upload`]).
#[derive(Debug, Default)]
pub(crate) struct Payloads {
    pub(crate) inputs: BTreeMap<String, String>,
    pub(crate) uploads: BTreeMap<String, Arc<[u8]>>,
}

/// The payloads `plan` needs, made from `repo` (resolved from `directory`, the
/// configuration's): none for a plan that pushes nothing.
pub(crate) fn payloads(
    plan: &Plan,
    (repo, compression): (&str, PushCompression),
    directory: &Utf8Path,
) -> Result<Payloads, PushError> {
    let commit = match plan.revision.as_ref() {
        Some(revision) if plan.upload_names().contains(ARCHIVE_PAYLOAD) => revision.commit.clone(),
        _ => return Ok(Payloads::default()),
    };
    let archive = archive(repo, &commit, directory, compression)?;
    Ok(Payloads {
        inputs: BTreeMap::from([(ARCHIVE_SIZE_PAYLOAD.to_owned(), archive.len().to_string())]),
        uploads: BTreeMap::from([(ARCHIVE_PAYLOAD.to_owned(), Arc::from(archive))]),
    })
}

/// A compressed tar of `commit`, from the project's private mirror of `repo`.
fn archive(repo: &str, commit: &str, directory: &Utf8Path, compression: PushCompression) -> Result<Vec<u8>, PushError> {
    let state = directory.join(".deployer");
    let mirror = state.join("mirror.git");
    if !mirror.is_dir() {
        private_directory(&state)?;
        let partial = state.join("mirror.git.partial");
        let _ = std::fs::remove_dir_all(&partial);
        git(directory, &["clone", "--mirror", "--quiet", "--", repo, partial.as_str()], "clone the repository", repo)?;
        std::fs::rename(&partial, &mirror).map_err(|source| PushError::Directory { path: mirror.clone(), source })?;
    }
    let has_commit = |mirror: &Utf8Path| {
        git(mirror, &["cat-file", "-e", &format!("{commit}^{{commit}}")], "find the commit", repo).is_ok()
    };
    if !has_commit(&mirror) {
        git(
            &mirror,
            &["fetch", "--quiet", "--prune", "--", repo, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
            "fetch the repository",
            repo,
        )?;
    }
    // Compressed once per deploy, whatever the fleet's size, at level 1: it
    // keeps most of the saving for a fraction of the default level's CPU (gzip:
    // about a second less for 20 MB of source).
    match compression {
        PushCompression::Gzip => {
            git(&mirror, &["archive", "--format=tar.gz", "-1", "--end-of-options", commit], "archive the commit", repo)
        }
        PushCompression::Zstd => {
            let tar =
                git(&mirror, &["archive", "--format=tar", "--end-of-options", commit], "archive the commit", repo)?;
            zstd::encode_all(tar.as_slice(), 1).map_err(|error| PushError::Failed {
                what: "compress the archive",
                repo: repo.to_owned(),
                detail: error.to_string(),
            })
        }
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
