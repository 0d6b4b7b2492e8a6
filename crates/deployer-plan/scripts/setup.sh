# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Runs a role's setup commands in the deploy root.
# input root
# args: the commands
# library commands
run_in "$root" "$@"
