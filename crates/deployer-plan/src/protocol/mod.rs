//! The text that travels between deployer's host scripts and Rust, each format
//! written and read in one place.
//!
//! - [`history`]: `.deployer/history` on each host, one versioned, self-describing
//!   line per event. Written by the scripts through values this module renders,
//!   read back only by [`history::Entry::parse`].
//! - [`lock_owner`]: the owner record inside `.deployer/lock`.
//! - [`report`]: what a host prints about its state (`DEPLOYER-STATE`,
//!   `DEPLOYER-HISTORY`, `DEPLOYER-LOCK` lines, written by `scripts/lib/report.sh`),
//!   parsed into one [`report::HostReport`].
//! - [`pushed`]: the `push` strategy's archive as a host receives it (whole, or a
//!   delta against the host's pristine tree), made by the binary and unpacked
//!   by `scripts/prepare_pushed.sh`.
//! - [`captured`]: the values a run derives from every host's report (the rollback
//!   target) and how hosts must agree on them.
//!
//! The step markers of the executor's wire format have their own owner
//! (`deployer_exec::Wire`), since they carry a per-run nonce.
//!
//! Everything read back from a host is validated as what it claims to be before it
//! is used in a path or shown: a host is not trusted to have written these files.

pub mod captured;
pub mod history;
pub mod lock_owner;
pub mod pushed;
pub mod report;

/// Whether `name` can be a release directory name deployer works with: what
/// deployer creates (`20261123T010203Z-abc1234`) and what Capistrano and
/// Deployer-PHP create (`20240101120000`, `1`), but nothing that could move a path
/// (`..`, `/`), start an option (`-`), hide (`.`) or carry control characters.
pub fn is_release_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with(['.', '-'])
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Whether `commit` is a full or abbreviated lower-case hexadecimal commit id.
pub fn is_commit(commit: &str) -> bool {
    (7..=64).contains(&commit.len()) && commit.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names() {
        for good in ["20261123T010203Z-abc1234", "20240101120000", "1", "v1.2_rc-3"] {
            assert!(is_release_name(good), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "-rf", ".hidden", "a b", "a\nb", "é", &"a".repeat(129)] {
            assert!(!is_release_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn commits() {
        assert!(is_commit("abc1234"));
        assert!(is_commit(&"a".repeat(40)));
        assert!(!is_commit("ABC1234"));
        assert!(!is_commit("abc123"));
        assert!(!is_commit("abc123g"));
    }
}
