# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Runs an ad-hoc command (deployer run) in the login directory.
# args: the command
# library commands
run_in . "$@"
