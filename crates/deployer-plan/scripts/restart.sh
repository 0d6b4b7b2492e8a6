# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Runs a role's restart commands in current.
# input current
# input environment
# args: the commands
# library live_release
# library commands
export_live_release
run_in "$current" "$@"
