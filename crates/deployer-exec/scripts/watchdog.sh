# shellcheck shell=sh
# Part of every phase script (deployer_exec::Wire). While step process $1 runs,
# prints the alive line $2 every 2 seconds. When that write fails, nobody reads
# this session any more (deployer was killed, or its connection is gone): the
# step's whole process group is stopped, as its time limit would stop it, instead
# of running on unattended. The sleeps hold none of the session's pipes, so a
# finished phase closes its session at once.
deployer_watch() {
    trap '' PIPE
    while kill -0 "$1" 2>/dev/null; do
        sleep 2 >/dev/null 2>&1
        if ! printf '%s\n' "$2" 2>/dev/null; then
            kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
            sleep 10 >/dev/null 2>&1
            kill -KILL -- "-$1" 2>/dev/null || true
            return 0
        fi
    done
}
