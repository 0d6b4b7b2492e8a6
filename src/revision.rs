//! Resolving what to deploy to one full commit id, once, on this machine.
//!
//! Capistrano and Deployer resolve the branch on every host, so a push during a
//! deploy can put hosts on different commits. deployer asks git once and gives
//! every host the same commit.

use std::process::Command;

use camino::Utf8Path;
use deployer_config::check_branch;
use deployer_plan::Revision;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RevisionError {
    #[error("cannot run git: {0}")]
    Git(std::io::Error),
    #[error("branch `{branch}` is not in {repo}")]
    NoBranch { branch: String, repo: String },
    #[error("cannot reach the repository {repo}: {detail}")]
    Unreachable { repo: String, detail: String },
    #[error("`{commit}` is not a commit of the repository checked out in {directory}")]
    UnknownCommit { commit: String, directory: String },
    #[error("{0}")]
    InvalidBranch(String),
}

/// `--commit` when given (a full id, or one the local checkout can expand), else
/// the head of `branch` in `repo`.
pub(crate) fn resolve(
    repo: &str,
    branch: &str,
    commit: Option<&str>,
    checkout: &Utf8Path,
) -> Result<Revision, RevisionError> {
    if let Some(commit) = commit {
        let full = is_full_commit(commit);
        let commit = if full { commit.to_owned() } else { expand_locally(commit, checkout)? };
        return Ok(Revision { branch: None, commit });
    }
    check_branch(branch).map_err(RevisionError::InvalidBranch)?;
    let output = Command::new("git")
        .args(["ls-remote", "--exit-code", "--end-of-options", repo, &format!("refs/heads/{branch}")])
        .current_dir(checkout)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(RevisionError::Git)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let commit = stdout.split_whitespace().next().filter(|commit| is_full_commit(commit));
    // `ls-remote --exit-code` exits 2 when the repository answered without the
    // ref; anything else means it could not be asked (DNS, auth, no such path).
    match (output.status.code(), commit) {
        (Some(0), Some(commit)) => Ok(Revision { branch: Some(branch.to_owned()), commit: commit.to_owned() }),
        (Some(2), _) => Err(RevisionError::NoBranch { branch: branch.to_owned(), repo: repo.to_owned() }),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let detail: Vec<&str> = stderr.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
            let detail = if detail.is_empty() { "git gave no reason".to_owned() } else { detail.join("; ") };
            Err(RevisionError::Unreachable { repo: repo.to_owned(), detail })
        }
    }
}

fn is_full_commit(commit: &str) -> bool {
    matches!(commit.len(), 40 | 64) && commit.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn expand_locally(commit: &str, checkout: &Utf8Path) -> Result<String, RevisionError> {
    let unknown = || RevisionError::UnknownCommit { commit: commit.to_owned(), directory: checkout.to_string() };
    if commit.is_empty() || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let output = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{commit}^{{commit}}")])
        .current_dir(checkout)
        .output()
        .map_err(RevisionError::Git)?;
    let full = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && is_full_commit(&full) { Ok(full) } else { Err(unknown()) }
}
