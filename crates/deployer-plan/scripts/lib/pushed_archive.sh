# shellcheck shell=sh disable=SC2154,SC2034
# (SC2034: $pushed is for the script that includes this.)
# Where the `push` strategy keeps a release's archive once received, by how it
# is compressed ($archive_type: gzip or zstd): sets $pushed. zstd archives need
# the `zstd` program, which not every host has: said plainly, before any work.
pushed_archive() {
    case $archive_type in
        zstd)
            pushed=$uploads/$release.tar.zst
            if ! command -v zstd >/dev/null 2>&1; then
                echo "deployer: this host has no zstd program, which execution.push_compression: zstd needs (install zstd, or use gzip)" >&2
                exit 1
            fi
            ;;
        *) pushed=$uploads/$release.tar.gz ;;
    esac
}
