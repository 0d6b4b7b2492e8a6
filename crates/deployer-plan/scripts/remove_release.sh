# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Undo of a failed prepare: removes the release unless it is live.
# input current
# input releases
# input complete
# input release
if [ "$(readlink -- "$current" 2>/dev/null || true)" != "$releases/$release" ]; then
    rm -f -- "$complete/$release"
    rm -rf -- "${releases:?}/$release" "$releases/.$release.tar"
fi
