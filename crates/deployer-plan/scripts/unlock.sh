# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Releases the lock only if this run holds it: another run's lock is never removed.
# input lock
# input lock_owner
# input owner_line: protocol::lock_owner::id_line
if grep -qxF -- "$owner_line" "$lock_owner" 2>/dev/null; then
    rm -rf -- "$lock"
fi
