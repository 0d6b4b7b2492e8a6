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
link_into_release() {
    refuse_symlinked_parents "$1"
    mkdir -p -- "$(dirname -- "$release_dir/$1")"
    rm -rf -- "${release_dir:?}/$1"
    ln -s -- "$shared/$1" "$release_dir/$1"
}
