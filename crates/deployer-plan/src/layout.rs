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
//! <root>/.deployer/history       one line per event (protocol::history)
//! <root>/.deployer/complete/<id> a release is switchable only once this exists
//! <root>/.deployer/created/<id>  the run that created a release: deployer removes
//!                                only releases it made (never an adopted layout's)
//! <root>/.deployer/previous      what `current` pointed at before the last switch
//! <root>/.deployer/undo/         what `current` and `previous` held before the last
//!                                switch, so undoing it restores them exactly
//! <root>/.deployer/uploads/<id>.tar.gz  the `push` strategy's archive of a release
//!                                (.tar.zst with zstd), until the prepare extracts
//!                                it; .<id>.incoming while it arrives
//! <root>/.deployer/tree/         with `execution.hardlink_releases`: a pristine
//!                                checkout of the last release (index: tree.index);
//!                                releases are hard links to its files;
//!                                tree.unsettled: its index is from its files'
//!                                second (see prepare_release.sh)
//! <root>/.deployer/pushed-tree/  the same for the `push` strategy: the files of
//!                                the last pushed commit, unpacked; a redeploy
//!                                receives only what changed since
//!                                (pushed-tree.commit, written last, names it)
//! <root>/releases/.deployer-pruned/<run>/  releases a prune took out of
//!                                releases/ (under the lock, by rename), deleted
//!                                in the background after it; nothing else goes here
//! ```
//!
//! Scripts get these paths as inputs named after them ([`Layout::named`]); no
//! script or step spells a path out itself.

use camino::{Utf8Path, Utf8PathBuf};

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

    /// The path a script input of this name means, if it names one.
    pub fn named(&self, name: &str) -> Option<Utf8PathBuf> {
        let relative = match name {
            "root" => return Some(self.root.clone()),
            "releases" => "releases",
            "current" => "current",
            "current_tmp" => ".current.deployer-tmp",
            "shared" => "shared",
            "mirror" => "repo",
            "mirror_partial" => "repo.partial",
            "secrets" => "secrets",
            "state" => ".deployer",
            "complete" => ".deployer/complete",
            "created" => ".deployer/created",
            "undo" => ".deployer/undo",
            "history" => ".deployer/history",
            "lock" => ".deployer/lock",
            "lock_owner" => ".deployer/lock/owner",
            "previous" => ".deployer/previous",
            "previous_tmp" => ".deployer/previous.tmp",
            "revert" => ".deployer/revert",
            "uploads" => ".deployer/uploads",
            "tree" => ".deployer/tree",
            "tree_index" => ".deployer/tree.index",
            "tree_unsettled" => ".deployer/tree.unsettled",
            "pushed_tree" => ".deployer/pushed-tree",
            "pushed_tree_commit" => ".deployer/pushed-tree.commit",
            // In releases/, so taking a release out is a rename on any layout
            // (releases/ may be on another filesystem than .deployer/).
            "pruned" => "releases/.deployer-pruned",
            _ => return None,
        };
        Some(self.root.join(relative))
    }
}
