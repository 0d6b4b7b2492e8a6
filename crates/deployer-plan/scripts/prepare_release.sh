# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Fetches the pinned commit into the host's mirror (cloning it the first time)
# and extracts it into releases/<release>. The release directory is claimed with
# mkdir (which fails if it exists), and the claim is recorded as this run's in
# created/, so undo and pruning remove only what deployer made: a directory that
# is already there, whoever made it, is refused and left alone. A resume
# (reclaim=yes) replaces an unfinished release of this id that an earlier attempt
# of the same deploy created: created/ records it, complete/ does not.
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
mkdir -p -- "$releases" "$shared" "$complete" "$created"
mkdir -- "$release_dir"
printf '%s\n' "$run" >"$created/$release"
if [ ! -d "$mirror" ]; then
    rm -rf -- "$mirror_partial"
    git clone --mirror --quiet -- "$repo" "$mirror_partial"
    mv -- "$mirror_partial" "$mirror"
fi
if ! git -C "$mirror" cat-file -e "$commit^{commit}" 2>/dev/null; then
    git -C "$mirror" fetch --quiet --prune -- "$repo" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
fi
git -C "$mirror" cat-file -e "$commit^{commit}" || {
    echo "deployer: commit $commit is not in $repo" >&2
    exit 1
}
# The archive's name derives from the release this run just claimed, so it is ours.
archive=$releases/.$release.tar
rm -f -- "$archive"
git -C "$mirror" archive --format=tar --output="$archive" --end-of-options "$commit"
tar -x -f "$archive" -C "$release_dir"
rm -f -- "$archive"
