# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Claims releases/<release> (see lib/claim_release.sh), fetches the pinned commit
# into the host's mirror (cloning it the first time; nothing to do when a `fetch`
# phase already did) and extracts it into the release.
# input releases
# input shared
# input complete
# input created
# input mirror
# input mirror_partial
# input repo
# input commit
# input release
# input run: this run's id
# input reclaim: yes in a resume
# input hardlink: yes with execution.hardlink_releases
# input tree
# input tree_index
# library claim_release
# library mirror
# library flush
claim_release
update_mirror
if [ "$hardlink" = yes ]; then
    # A pristine checkout that only deployer writes: git rewrites only the files
    # that changed since the last release, or that were changed in place through
    # a hard link (its index knows their size and mtime; link counts change the
    # ctime, so it is not trusted). A file git rewrites is removed first, so the
    # releases linked to the old one keep it. Then the release is hard links to
    # every file: a redeploy writes only what changed.
    [ -d "$tree" ] || mkdir -p -- "$tree"
    rm -f -- "$tree_index.lock"
    GIT_INDEX_FILE=$tree_index git --git-dir="$mirror" --work-tree="$tree" -c core.trustctime=false \
        read-tree --reset -u "$commit"
    # The files git just wrote are the ones only the tree links (every other file
    # is in an earlier release too): flushed here, once, while the link count
    # still tells them apart.
    flush_paths "$tree" -type f -links 1
    if ! cp -al -- "$tree/." "$release_dir/" 2>/dev/null; then
        # releases/ on another filesystem than .deployer/: copies, then.
        rm -rf -- "$release_dir"
        mkdir -- "$release_dir"
        cp -a -- "$tree/." "$release_dir/"
    fi
else
    # The archive's name derives from the release this run just claimed, so it is ours.
    archive=$releases/.$release.tar
    rm -f -- "$archive"
    git -C "$mirror" archive --format=tar --output="$archive" --end-of-options "$commit"
    tar -x -f "$archive" -C "$release_dir"
    rm -f -- "$archive"
fi
