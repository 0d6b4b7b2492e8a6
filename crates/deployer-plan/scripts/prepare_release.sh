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
# input tree_unsettled: a fresh tree's index is not settled yet
# library claim_release
# library mirror
# library flush
# git trusts an index entry's size and mtime only for a file older than the
# index file itself, counted in whole seconds as most git builds count them: a
# file from the index's own second might have changed unseen just after it was
# written ("racy git"), so git reads and hashes it again, every time, until an
# index is written in a later second. A fresh tree's files all share its
# index's second, so the next deploy hashed the whole tree (20 MB, about 0.2 s
# of a host's CPU) to update one file. So a fresh tree leaves a mark, and the
# next deploy, before git reads the index, looks for any path in the tree
# modified after the index was written (GNU find compares nanoseconds): with
# none, every file is as git recorded it, and the index's mtime moves to now,
# the index git would write now. With one, or without GNU find's -newermm, or
# on any failure, the index stays as it is (correct, only slower once). Not
# done by waiting for the second to pass after the checkout: that cost a
# first deploy up to a second.
settle_fresh_index() {
    if settle_newer=$(find "$tree" -newermm "$tree_index" -print -quit 2>/dev/null) && [ -z "$settle_newer" ]; then
        touch -c -- "$tree_index" 2>/dev/null || true
    fi
    rm -f -- "$tree_unsettled"
}

claim_release
update_mirror
if [ "$hardlink" = yes ]; then
    # A pristine checkout that only deployer writes: git rewrites only the files
    # that changed since the last release, or that were changed in place through
    # a hard link (its index knows their size and mtime; link counts change the
    # ctime, so it is not trusted). A file git rewrites is removed first, so the
    # releases linked to the old one keep it. Then the release is hard links to
    # every file: a redeploy writes only what changed.
    if [ ! -d "$tree" ]; then mkdir -p -- "$tree"; fi
    # Without an index git writes every file: the tree is fresh.
    fresh_tree=yes
    if [ -e "$tree_index" ]; then
        fresh_tree=no
        if [ -e "$tree_unsettled" ]; then settle_fresh_index; fi
    fi
    if [ -e "$tree_index.lock" ]; then rm -f -- "$tree_index.lock"; fi
    GIT_INDEX_FILE=$tree_index git --git-dir="$mirror" --work-tree="$tree" -c core.trustctime=false \
        read-tree --reset -u "$commit"
    if [ "$fresh_tree" = yes ]; then : >"$tree_unsettled"; fi
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
    # Streamed from git to tar: no archive file the size of the release to
    # write and delete (on a shared disk, another host's flush would write it
    # out first). Both exit statuses count: git's, when it fails, comes back on
    # descriptor 3 (not `echo $?` after it: under set -e a failure ends that
    # side of the pipe first).
    if archive_status=$(
        { { git -C "$mirror" archive --format=tar --end-of-options "$commit" 3>&- || echo "$?" >&3; } |
            tar -x -f - -C "$release_dir" 3>&- 1>&2; } 3>&1
    ); then
        tar_status=0
    else
        tar_status=$?
    fi
    # 141 is SIGPIPE: tar stopped reading, which only matters if tar failed.
    case $archive_status in
        '' | 141) ;;
        *)
            echo "deployer: git archive of $commit failed (status $archive_status)" >&2
            exit 1
            ;;
    esac
    if [ "$tar_status" != 0 ]; then
        echo "deployer: tar could not extract $commit into the release (status $tar_status)" >&2
        exit 1
    fi
fi
