# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# deployer lock release: removes the lock only if the given id holds it;
# otherwise shows the holder and fails.
# input lock
# input lock_owner
# input owner_line: protocol::lock_owner::id_line
if [ ! -d "$lock" ]; then
    echo 'deployer: no lock is held'
    exit 0
fi
if grep -qxF -- "$owner_line" "$lock_owner" 2>/dev/null; then
    rm -rf -- "$lock"
    echo 'deployer: lock released'
else
    echo 'deployer: refused: the lock is held by another run:' >&2
    cat -- "$lock_owner" >&2 2>/dev/null || echo '(no owner record)' >&2
    exit 1
fi
