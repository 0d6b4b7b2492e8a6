# shellcheck shell=sh disable=SC2154
# Brings the host's bare mirror of $repo far enough to hold $commit: cloned the
# first time (into a partial directory, renamed once complete, so an interrupted
# clone is never taken for a mirror), fetched only when the commit is missing.
# Exits when the repository does not have the commit.
update_mirror() {
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
}
