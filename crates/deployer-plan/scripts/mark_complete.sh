# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Flushes the release to disk, then marks it complete: only complete releases
# can become current.
# input releases
# input complete
# input history
# input release
# input history_entry: protocol::history::Entry::to_line
sync -f -- "$releases/$release" 2>/dev/null || sync
: >"$complete/$release"
sync -- "$complete" 2>/dev/null || true
printf '%s\n' "$history_entry" >>"$history"
