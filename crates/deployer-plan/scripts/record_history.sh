# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Appends one line to the history.
# input history
# input history_entry: protocol::history::Entry::to_line
printf '%s\n' "$history_entry" >>"$history"
