//! The shapes of the ids a plan carries: commits, stamps and release ids.

use crate::error::PlanError;

pub(super) fn check_commit(commit: &str) -> Result<(), PlanError> {
    let valid =
        matches!(commit.len(), 40 | 64) && commit.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if valid { Ok(()) } else { Err(PlanError::InvalidCommit { commit: commit.to_owned() }) }
}

pub(super) fn check_stamp(stamp: &str) -> Result<(), PlanError> {
    let bytes = stamp.as_bytes();
    let valid = bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes[..8].iter().chain(&bytes[9..15]).all(u8::is_ascii_digit);
    if valid { Ok(()) } else { Err(PlanError::InvalidReleaseId { id: stamp.to_owned() }) }
}

/// A release id as deployer makes them: `YYYYmmddTHHMMSSZ-<7+ hex>`.
pub fn check_release_id(id: &str) -> Result<(), PlanError> {
    let invalid = || PlanError::InvalidReleaseId { id: id.to_owned() };
    let (stamp, commit) = id.split_once('-').ok_or_else(invalid)?;
    check_stamp(stamp).map_err(|_| invalid())?;
    let valid =
        (7..=64).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if valid { Ok(()) } else { Err(invalid()) }
}
