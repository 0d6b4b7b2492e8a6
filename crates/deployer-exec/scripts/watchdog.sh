# shellcheck shell=sh
# Part of every phase script (deployer_exec::Wire), started once per phase in the
# background. While the phase's shell runs, it prints the alive line $1 every $2
# seconds (2 on small fleets; longer on large ones, where a thousand watchdogs
# each starting `sleep` every 2 seconds would cost the hosts' CPU). When that write fails, nobody reads this session any more (deployer
# was killed, or its connection is gone): the running step's whole process group
# is stopped, as its time limit would stop it, instead of running on unattended.
# The sleeps hold none of the session's pipes, so a finished phase closes its
# session at once. One watchdog per phase, not per step: short steps cost nothing.
deployer_watch() {
    trap '' PIPE
    while kill -0 "$$" 2>/dev/null; do
        sleep "$2" >/dev/null 2>&1
        if ! printf '%s\n' "$1" 2>/dev/null; then
            deployer_stop_steps TERM
            sleep 10 >/dev/null 2>&1
            deployer_stop_steps KILL
            return 0
        fi
    done
}

# Signals $1 to every step of this phase: the children of the phase's shell ($$
# in a subshell too) that lead their own process group, as GNU timeout does.
deployer_stop_steps() {
    for stat in /proc/[0-9]*/stat; do
        read -r pid _ _ ppid group _ 2>/dev/null <"$stat" || continue
        if [ "$ppid" = "$$" ] && [ "$group" = "$pid" ]; then
            # dash's kill takes no `--`; a negative pid names the group.
            kill "-$1" "-$pid" 2>/dev/null || true
        fi
    done
}
