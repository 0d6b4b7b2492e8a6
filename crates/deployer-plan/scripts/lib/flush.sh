# shellcheck shell=sh
# Makes paths durable, and only them: `syncfs` of the whole filesystem would
# also wait for every other program's unwritten data on it (logs, other
# deploys), for seconds on a busy host. Each fsync of a new file commits the
# filesystem's journal, so they run 16 at a time and the journal takes each
# batch in one commit: 2,000 new files (20 MB) take about 0.1 s this way and
# 0.45 s one after another (docs/benchmarks.md). `sync FILE` needs coreutils
# 8.24 (2015); with an older one, or any failure, the whole system is synced.
# flush_paths DIR [FIND PREDICATES...]: every directory under DIR, and every
# file the predicates select (all files without any).
flush_paths() {
    flush_dir=$1
    shift
    if [ "$#" -eq 0 ]; then set -- -type f; fi
    find "$flush_dir" \( -type d -o \( "$@" \) \) -print0 |
        xargs -0 -r -P 16 -n 100 sync -- 2>/dev/null || sync
}
