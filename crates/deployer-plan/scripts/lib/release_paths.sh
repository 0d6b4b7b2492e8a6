# shellcheck shell=sh disable=SC2154
# A release comes from the repository, which may contain symlinks: writing
# through one could escape the release directory. Refuses when any parent of $1
# inside $release_dir is a symlink.
refuse_symlinked_parents() {
    rest=$1
    prefix=
    while :; do
        case $rest in
            */*) component=${rest%%/*} rest=${rest#*/} ;;
            *) break ;;
        esac
        prefix=${prefix:+$prefix/}$component
        if [ -L "$release_dir/$prefix" ]; then
            echo "deployer: $prefix in the release is a symlink; refusing to write through it" >&2
            exit 1
        fi
    done
}

# Replaces $1 (relative) in the release with a link to the same path in shared/.
# Only what is needed runs: each process costs a host on a large fleet (the
# parent found by trimming, not by `dirname`; no mkdir or rm for nothing).
link_into_release() {
    refuse_symlinked_parents "$1"
    link_path=$release_dir/$1
    while :; do
        case $link_path in
            */) link_path=${link_path%/} ;;
            *) break ;;
        esac
    done
    [ -d "${link_path%/*}" ] || mkdir -p -- "${link_path%/*}"
    if [ -e "$release_dir/$1" ] || [ -L "$release_dir/$1" ]; then
        rm -rf -- "${release_dir:?}/$1"
    fi
    ln -s -- "$shared/$1" "$release_dir/$1"
}
