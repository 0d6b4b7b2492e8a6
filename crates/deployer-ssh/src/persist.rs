//! Masters that outlive a run (`ssh.control_persist`), so the next run to the
//! same hosts (a deploy right after `status`, or after another deploy) starts
//! without a single handshake.
//!
//! They live in `<base>/p/<key>/master`, beside the runs' own directories and
//! private the same way (0700, ours, not a symlink): whoever can open a master's
//! socket gets a shell on its host without authenticating. `<key>` is a digest of
//! everything that shaped the connection (the generated ssh configuration, user,
//! host, port), so a changed setting never reuses an old master. A master exits
//! by itself after `control_persist` idle seconds; `deployer disconnect` closes
//! every one at once. Hosts behind a gateway are not kept: their masters ride the
//! gateway's, which ends with the run.

use std::hash::{Hash, Hasher};

use camino::{Utf8Path, Utf8PathBuf};

use crate::control_dir::{ControlDirError, exit_master, private_under_base};

/// The directory's name under the base.
const NAME: &str = "p";

/// The private directory of persistent masters.
#[derive(Debug)]
pub(crate) struct PersistDir {
    path: Utf8PathBuf,
}

impl PersistDir {
    pub(crate) fn open() -> Result<Self, ControlDirError> {
        Ok(Self { path: private_under_base(NAME, true)? })
    }

    pub(crate) fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// The directory of the master for this connection.
    pub(crate) fn slot(&self, config_text: &str, user: Option<&str>, host: &str, port: Option<u16>) -> Utf8PathBuf {
        // SipHash with fixed keys: stable for a given deployer build, which is
        // all a cache key needs (a new build at worst starts new masters).
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (config_text, user, host, port).hash(&mut hasher);
        self.path.join(format!("{:016x}", hasher.finish()))
    }
}

/// `ssh -O exit` for the master in `slot`, then its directory removed.
pub(crate) fn exit_and_remove(slot: &Utf8Path) {
    exit_master(slot.as_std_path());
    let _ = std::fs::remove_dir_all(slot);
}

/// `deployer disconnect`: closes every persistent master of this user; returns
/// how many there were.
pub fn disconnect_all() -> Result<usize, ControlDirError> {
    let path = match private_under_base(NAME, false) {
        Ok(path) => path,
        Err(ControlDirError::Create { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut closed = 0;
    for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
        let Ok(slot) = Utf8PathBuf::try_from(entry.path()) else { continue };
        if slot.join("master").exists() {
            closed += 1;
        }
        exit_and_remove(&slot);
    }
    let _ = std::fs::remove_dir(&path);
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_that_shapes_a_connection_changes_its_slot() {
        let dir = PersistDir { path: Utf8PathBuf::from("/tmp/deployer-0/p") };
        let base = dir.slot("config", Some("deploy"), "web1", Some(22));
        assert_eq!(base, dir.slot("config", Some("deploy"), "web1", Some(22)), "stable");
        for other in [
            dir.slot("config changed", Some("deploy"), "web1", Some(22)),
            dir.slot("config", Some("root"), "web1", Some(22)),
            dir.slot("config", Some("deploy"), "web2", Some(22)),
            dir.slot("config", Some("deploy"), "web1", Some(2222)),
            dir.slot("config", None, "web1", Some(22)),
        ] {
            assert_ne!(base, other);
        }
        assert!(base.join("master").as_str().len() < 100, "fits a socket path: {base}");
    }
}
