# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# The `fetch` phase (execution.fetch_concurrency): only the step that talks to
# the git server, so that phase's pool bounds how many hosts do it at once.
# input mirror
# input mirror_partial
# input repo
# input commit
# library mirror
update_mirror
