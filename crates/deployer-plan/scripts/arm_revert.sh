# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Arms the host's dead-man's switch before the switch: unless this deploy
# confirms within `seconds` (disarm_revert.sh removes the marker), a process in
# its own session, needing nothing from the machine running deployer, claims the
# marker, puts `current` back, restarts and releases this run's lock (`body`).
# input revert
# input run: the deploy id
# input seconds
# input body: the switch-back, restart and unlock scripts, as one word
if ! command -v setsid >/dev/null 2>&1; then
    echo "deployer: auto_revert_after needs setsid (util-linux) on the host" >&2
    exit 1
fi
mkdir -p -- "$revert"
marker="$revert/$run"
rm -f -- "$marker.reverted"
printf '%s\n' "armed for ${seconds}s" >"$marker"
# The claim is a rename, so a confirmation and the revert never both win.
# shellcheck disable=SC2016 # expanded by the detached shell, from its arguments
setsid sh -c '
sleep "$1"
mv -- "$2" "$2.reverted" 2>/dev/null || exit 0
echo "deployer: $(date -u +%Y-%m-%dT%H:%M:%SZ): deploy $4 not confirmed within $1s; reverting"
sh -eu -c "$3"
' deployer-revert "$seconds" "$marker" "$body" "$run" </dev/null >>"$revert/log" 2>&1 &
