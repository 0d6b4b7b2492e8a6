# shellcheck shell=sh disable=SC2154
# Claims releases/$release for this run: the directory is made with mkdir (which
# fails if it exists), and the claim is recorded as this run's in created/, so
# undo and pruning remove only what deployer made: a directory that is already
# there, whoever made it, is refused and left alone. A resume (reclaim=yes)
# replaces an unfinished release of this id that an earlier attempt of the same
# deploy created: created/ records it, complete/ does not. Sets $release_dir.
claim_release() {
    release_dir=$releases/$release
    if [ "$reclaim" = yes ] && [ -e "$created/$release" ] && [ ! -e "$complete/$release" ] && [ ! -L "$release_dir" ]; then
        echo "deployer: removing the unfinished release $release an earlier attempt left"
        rm -rf -- "$release_dir" "$releases/.$release.tar"
        rm -f -- "$created/$release"
    fi
    if [ -e "$release_dir" ] || [ -L "$release_dir" ] || [ -e "$complete/$release" ]; then
        echo "deployer: release $release already exists on this host (another deploy of this commit in the same second?); it was left alone" >&2
        exit 1
    fi
    # Test first: mkdir is a process, and these exist after the first deploy.
    if ! { [ -d "$releases" ] && [ -d "$shared" ] && [ -d "$complete" ] && [ -d "$created" ]; }; then
        mkdir -p -- "$releases" "$shared" "$complete" "$created"
    fi
    mkdir -- "$release_dir"
    printf '%s\n' "$run" >"$created/$release"
}
