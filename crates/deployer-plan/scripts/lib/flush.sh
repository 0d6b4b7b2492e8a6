# shellcheck shell=sh
# Makes what a release needs durable. A few files are flushed one by one, 16
# at a time (each fsync of a new file commits the filesystem's journal; run
# together, the journal takes them in one commit): that never waits for other
# programs' unwritten data, which `syncfs` of the whole filesystem does (logs,
# another deploy: 0.1 s more with 100 MB of it, and more on a busy host). Many
# files are flushed with `syncfs`: 2,000 new files (20 MB) take 0.01-0.06 s
# that way on a quiet filesystem against 0.09-0.12 s one by one, and all at once
# on a shared disk they queue far longer (docs/benchmarks.md). `sync FILE` needs
# coreutils 8.24 (2015); with an older one, or any failure, the whole system is
# synced.
# flush_paths DIR FIND-PREDICATES...: what the predicates select under DIR. (A
# name with a newline counts twice towards the 256: either way is safe.)
flush_paths() {
    flush_dir=$1
    shift
    if [ "$(find "$flush_dir" \( "$@" \) -print | head -n 257 | wc -l)" -gt 256 ]; then
        sync -f -- "$flush_dir" 2>/dev/null || sync
    else
        find "$flush_dir" \( "$@" \) -print0 | xargs -0 -r -P 16 -n 16 sync -- 2>/dev/null || sync
    fi
}
