# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# The `push` strategy's prepare: claims releases/<release> (see
# lib/claim_release.sh) and unpacks the archive the transfer received. Its
# first line says what it is (deployer_plan::protocol::pushed): `full` (the
# whole commit), or `delta BASE SIZE`, SIZE bytes of paths to remove from the
# pristine tree at commit BASE, one per line, then the files that changed.
# input releases
# input shared
# input complete
# input created
# input uploads
# input commit
# input release
# input run: this run's id
# input reclaim: yes in a resume
# input archive_type: gzip or zstd
# input hardlink: yes with execution.hardlink_releases
# input pushed_tree
# input pushed_tree_commit
# library claim_release
# library pushed_archive
# library unpack_pushed
# library flush
not_ours() {
    echo "deployer: the pushed archive of release $release is not one deployer made ($1)" >&2
    exit 1
}

# remove_from_tree LIST: each line of LIST, a path in the pristine tree, is
# removed, then its directories that are left empty (git keeps no empty ones).
remove_from_tree() {
    remove_newline='
'
    remove_ifs=$IFS
    IFS=$remove_newline
    set -f
    # shellcheck disable=SC2086 # one word per line, unglobbed
    set -- $1
    set +f
    IFS=$remove_ifs
    for remove_path in "$@"; do
        case /$remove_path/ in
            // | */../* | */./* | *//*) not_ours "it removes $remove_path" ;;
        esac
        rm -f -- "$pushed_tree/$remove_path"
        remove_dir=$remove_path
        while [ "${remove_dir%/*}" != "$remove_dir" ]; do
            remove_dir=${remove_dir%/*}
            rmdir -- "$pushed_tree/$remove_dir" 2>/dev/null || break
        done
    done
}

pushed_archive
claim_release
if [ ! -f "$pushed" ]; then
    echo "deployer: the pushed archive of release $release is not on this host" >&2
    exit 1
fi
IFS= read -r header <"$pushed" || header=
set -f
# shellcheck disable=SC2086 # its words, unglobbed
set -- $header
set +f
# tail -c counts from 1: the first byte after the header line.
start=$((${#header} + 2))
case ${1:-}:$# in
    full:1) kind='full' ;;
    delta:3)
        kind='delta'
        delta_base=$2
        removed_size=$3
        case $delta_base:$removed_size in
            *[!0-9a-f]*:* | *:*[!0-9]* | :* | *:) not_ours "$header" ;;
        esac
        ;;
    *) not_ours "it starts with: $header" ;;
esac
if [ "$hardlink" = yes ]; then
    # The pristine tree: only deployer writes it, and every release is hard links
    # to its files. A delta applies only to the commit it was made from; the mark
    # goes first, so a tree left half-changed (a failure, a signal) is never
    # built on: the next deploy gets the whole archive.
    tree_commit=
    if [ -f "$pushed_tree_commit" ]; then tree_commit=$(cat -- "$pushed_tree_commit"); fi
    rm -f -- "$pushed_tree_commit"
    if [ "$kind" = delta ]; then
        if [ "$tree_commit" != "$delta_base" ]; then
            echo "deployer: the pristine tree holds ${tree_commit:-nothing whole}, not $delta_base the delta was made from" >&2
            exit 1
        fi
        remove_from_tree "$(tail -c "+$start" -- "$pushed" | head -c "$removed_size")"
        start=$((start + removed_size))
    else
        # Only deployer's files: the releases keep theirs through their links.
        if [ -e "$pushed_tree" ]; then rm -rf -- "$pushed_tree"; fi
        mkdir -p -- "$pushed_tree"
    fi
    unpack_pushed "$start" "$pushed_tree"
    # The files just written are the ones only the tree links (every other file
    # is in an earlier release too): flushed here, once, while the link count
    # still tells them apart.
    flush_paths "$pushed_tree" -type f -links 1
    if ! cp -al -- "$pushed_tree/." "$release_dir/" 2>/dev/null; then
        # releases/ on another filesystem than .deployer/: copies, then.
        rm -rf -- "$release_dir"
        mkdir -- "$release_dir"
        cp -a -- "$pushed_tree/." "$release_dir/"
    fi
    # Written last, so it is newer than every file of the tree: a file changed
    # in place through a release's link is seen (receive_archive.sh).
    printf '%s\n' "$commit" >"$pushed_tree_commit"
else
    if [ "$kind" != full ]; then not_ours "a delta, without hard-linked releases"; fi
    unpack_pushed "$start" "$release_dir"
fi
rm -f -- "$pushed"
