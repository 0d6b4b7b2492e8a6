//! Where things live under an environment's deploy root on each host.
//!
//! Compatible with Capistrano's layout, so existing nginx and systemd setups keep
//! working:
//!
//! ```text
//! <root>/releases/<id>/          one directory per release
//! <root>/current -> releases/<id> (absolute link; swapped atomically)
//! <root>/shared/                 linked files and directories
//! <root>/repo/                   a bare mirror, so redeploys fetch only what changed
//! <root>/secrets/                0700; one 0600 file per secret
//! <root>/.deployer/lock/         the environment lock (mkdir), with an `owner` record
//! <root>/.deployer/history       one line per event: id, commit, time, user, event, migrate=yes|no
//! <root>/.deployer/complete/<id> a release is switchable only once this exists
//! <root>/.deployer/previous      what `current` pointed at before the last switch
//! ```

use camino::{Utf8Path, Utf8PathBuf};

use crate::shell::quote;

/// Quotes a value that was validated before planning (no NUL can reach here).
pub(crate) fn q(value: &str) -> String {
    quote(value).expect("values are validated before planning and contain no NUL").into_owned()
}

pub(crate) struct Layout {
    root: Utf8PathBuf,
}

impl Layout {
    pub fn new(root: &Utf8Path) -> Self {
        Self { root: root.to_owned() }
    }

    pub fn root_path(&self) -> &Utf8Path {
        &self.root
    }

    /// `<root>/<relative>`, quoted.
    pub fn at(&self, relative: &str) -> String {
        q(self.root.join(relative).as_str())
    }

    pub fn root(&self) -> String {
        q(self.root.as_str())
    }

    pub fn release(&self, id: &str) -> String {
        self.at(&format!("releases/{id}"))
    }

    pub fn release_path(&self, id: &str) -> Utf8PathBuf {
        self.root.join("releases").join(id)
    }

    pub fn marker(&self, id: &str) -> String {
        self.at(&format!(".deployer/complete/{id}"))
    }
}
