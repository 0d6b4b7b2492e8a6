# shellcheck shell=sh
# Makes what a release needs durable. A few files are flushed one by one, by 4
# `sync` processes at a time (each fsync of a new file commits the filesystem's
# journal; run together, the journal takes them in one commit; 250 files and
# 100 directories took as long with 16 processes of 16 paths as with 4 of 64,
# and fewer processes cost the host less CPU): that never waits for other
# programs' unwritten data, which `syncfs` of the whole filesystem does (logs,
# another deploy: 0.1 s more with 100 MB of it, and more on a busy host). Many
# files are flushed with `syncfs`: 2,000 new files (20 MB) take 0.01-0.06 s
# that way on a quiet filesystem against 0.09-0.12 s one by one, and all at once
# on a shared disk they queue far longer (docs/benchmarks.md). `sync FILE` needs
# coreutils 8.24 (2015); with an older one, or any failure, the whole system is
# synced.
# flush_paths DIR FIND-PREDICATES...: what the predicates select under DIR (an
# absolute path). One walk of DIR, its first 257 matches one per line; a path
# with a newline in it is printed as the line `flush-all` instead, since it
# would split, and the whole filesystem is flushed then. More than 256: too.
flush_paths() {
    flush_dir=$1
    shift
    flush_newline='
'
    flush_list=$(find "$flush_dir" \( "$@" \) \( -path "*$flush_newline*" -exec echo flush-all \; -o -print \) |
        head -n 257)
    flush_ifs=$IFS
    IFS=$flush_newline
    set -f
    # shellcheck disable=SC2086 # split on newlines, unglobbed: one word per path
    set -- $flush_list
    set +f
    IFS=$flush_ifs
    flush_all=no
    case "$flush_newline$flush_list$flush_newline" in
        *"${flush_newline}flush-all$flush_newline"*) flush_all=yes ;;
    esac
    if [ "$flush_all" = yes ] || [ "$#" -gt 256 ]; then
        sync -f -- "$flush_dir" 2>/dev/null || sync
    elif [ "$#" -gt 0 ]; then
        printf '%s\0' "$@" | xargs -0 -r -P 4 -n 64 sync -- 2>/dev/null || sync
    fi
}
