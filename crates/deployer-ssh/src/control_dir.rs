//! The private directory that holds this run's `ControlMaster` sockets.
//!
//! Unix socket paths are limited to 107 bytes and OpenSSH appends about 46 to the
//! directory we give it, so the directory must be short. It is created 0700, must
//! be ours and not a symlink (anyone who can open a master socket gets a shell
//! without authenticating), and is removed at the end of the run.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

use camino::{Utf8Path, Utf8PathBuf};

/// Longest control directory that leaves room for OpenSSH's socket names.
const MAX_LENGTH: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum ControlDirError {
    #[error("cannot create the control socket directory `{path}`: {source}")]
    Create { path: Utf8PathBuf, source: std::io::Error },
    #[error("`{path}` is not a private directory of this user (it must be owned by us, mode 0700, not a symlink)")]
    NotPrivate { path: Utf8PathBuf },
    #[error("no short enough directory for control sockets (tried `{tried}`); set XDG_RUNTIME_DIR to a short path")]
    TooLong { tried: String },
}

/// This run's control directory; removed when dropped.
#[derive(Debug)]
pub struct ControlDir {
    path: Utf8PathBuf,
}

impl ControlDir {
    /// `$XDG_RUNTIME_DIR/deployer/<pid>`, else `/tmp/deployer-<uid>/<pid>`.
    pub fn create() -> Result<Self, ControlDirError> {
        let path = private_under_base(&std::process::id().to_string(), true)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Utf8Path {
        &self.path
    }
}

impl Drop for ControlDir {
    fn drop(&mut self) {
        // A master still starting when the run ends can put its socket in the
        // directory between `remove_dir_all`'s listing and its final `rmdir`
        // (which then fails, not empty): look again a few times.
        for _ in 0..20 {
            match std::fs::remove_dir_all(&self.path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                _ => return,
            }
        }
    }
}

/// `ssh -O exit` for the master whose socket is `<directory>/master` (where the
/// `openssh` crate puts it), if there is one.
pub(crate) fn exit_master(directory: &std::path::Path) {
    let socket = directory.join("master");
    if socket.exists() {
        let _ = std::process::Command::new("ssh")
            .arg("-S")
            .arg(&socket)
            .args(["-O", "exit", "deployer"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `<base>/<name>` in the first base short enough for sockets, where `<base>` is
/// `$XDG_RUNTIME_DIR/deployer`, else `/tmp/deployer-<uid>`: both private to
/// this user (created 0700 when `create`, else only checked). Shared by the
/// runs' directories and the persistent masters' (`persist.rs`).
pub(crate) fn private_under_base(name: &str, create: bool) -> Result<Utf8PathBuf, ControlDirError> {
    let uid = std::fs::metadata("/proc/self").map_or(0, |metadata| metadata.uid());
    let mut tried = Vec::new();
    let runtime = std::env::var("XDG_RUNTIME_DIR").ok().filter(|dir| !dir.is_empty());
    let bases = runtime
        .map(|dir| Utf8PathBuf::from(dir).join("deployer"))
        .into_iter()
        .chain([Utf8PathBuf::from(format!("/tmp/deployer-{uid}"))]);
    for base in bases {
        let path = base.join(name);
        if path.as_str().len() > MAX_LENGTH {
            tried.push(path.to_string());
            continue;
        }
        if create {
            private_directory(&base, uid)?;
            private_directory(&path, uid)?;
        } else {
            checked_private(&path, uid)?;
        }
        return Ok(path);
    }
    Err(ControlDirError::TooLong { tried: tried.join("`, `") })
}

fn private_directory(path: &Utf8Path, uid: u32) -> Result<(), ControlDirError> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(ControlDirError::Create { path: path.to_owned(), source }),
    }
    checked_private(path, uid)
}

/// `path` is a directory owned by `uid`, mode 0700, not a symlink.
fn checked_private(path: &Utf8Path, uid: u32) -> Result<(), ControlDirError> {
    let metadata =
        std::fs::symlink_metadata(path).map_err(|source| ControlDirError::Create { path: path.to_owned(), source })?;
    // Reads as the permission bits it checks; `trailing_zeros` would not.
    #[allow(clippy::verbose_bit_mask)]
    let private = metadata.is_dir() && metadata.uid() == uid && metadata.permissions().mode() & 0o077 == 0;
    if private { Ok(()) } else { Err(ControlDirError::NotPrivate { path: path.to_owned() }) }
}
