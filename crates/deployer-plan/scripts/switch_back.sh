# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Undo of a switch to a release: only a host that is on it goes back, to exactly
# the link current held before (or to no current, after a first deploy), and
# previous is restored too. A host whose switch never happened is left alone.
# input root
# input releases
# input current
# input current_tmp
# input previous
# input undo
# input release
if [ "$(readlink -- "$current" 2>/dev/null || true)" != "$releases/$release" ]; then
    exit 0
fi
before=$(cat -- "$undo/current" 2>/dev/null || true)
if [ -n "$before" ]; then
    rm -f -- "$current_tmp"
    ln -s -- "$before" "$current_tmp"
    mv -T -- "$current_tmp" "$current"
else
    rm -f -- "$current"
fi
if [ -f "$undo/previous" ]; then mv -f -- "$undo/previous" "$previous"; else rm -f -- "$previous"; fi
sync -- "$root" 2>/dev/null || true
