# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Takes the environment lock: mkdir is atomic, so exactly one run gets it. A lock
# that cannot be created (disk full, no inodes, read-only) is an error, not
# "held"; a lock whose owner record cannot be written is removed again, or
# nobody could ever prove it theirs.
# input state
# input lock
# input lock_owner
# input owner_record: protocol::lock_owner::LockOwner::record
# input held_status: the exit status that means "held by another run"
[ -d "$state" ] || mkdir -p -- "$state"
if problem=$(mkdir -- "$lock" 2>&1); then
    if ! printf '%s' "$owner_record" >"$lock_owner"; then
        rm -rf -- "$lock"
        echo 'deployer: cannot write the lock owner record' >&2
        exit 1
    fi
elif [ -d "$lock" ]; then
    echo 'deployer: the environment is locked by another run:' >&2
    cat -- "$lock_owner" >&2 2>/dev/null || echo '(no owner record yet)' >&2
    exit "$held_status"
else
    printf 'deployer: cannot take the lock: %s\n' "$problem" >&2
    exit 1
fi
