# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Undo of a switch to a release: only a host that is on it goes back to what
# current pointed at before (or to no release, after a first deploy). A host
# whose switch never happened is left alone.
# input root
# input releases
# input current
# input current_tmp
# input complete
# input previous
# input release
if [ "$(readlink -- "$current" 2>/dev/null || true)" != "$releases/$release" ]; then
    exit 0
fi
before=$(cat -- "$previous" 2>/dev/null || true)
if [ -n "$before" ] && [ "$before" != "$release" ] && [ -e "$complete/$before" ]; then
    rm -f -- "$current_tmp"
    ln -s -- "$releases/$before" "$current_tmp"
    mv -T -- "$current_tmp" "$current"
else
    rm -f -- "$current"
fi
sync -- "$root" 2>/dev/null || true
