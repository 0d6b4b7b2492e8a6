# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Fetches the pinned commit into the host's mirror (cloning it the first time)
# and extracts it into releases/<release>.
# input releases
# input shared
# input complete
# input mirror
# input mirror_partial
# input repo
# input commit
# input release
mkdir -p -- "$releases" "$shared" "$complete"
if [ -e "$complete/$release" ]; then
    echo "deployer: release $release already exists" >&2
    exit 1
fi
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
release_dir=$releases/$release
archive=$releases/.$release.tar
rm -rf -- "$release_dir" "$archive"
mkdir -- "$release_dir"
git -C "$mirror" archive --format=tar --output="$archive" --end-of-options "$commit"
tar -x -f "$archive" -C "$release_dir"
rm -f -- "$archive"
