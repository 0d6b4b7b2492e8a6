# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Takes down the maintenance page and the health-check override.
# input directory
rm -f -- "$directory/503.html"
rm -f -- "$directory/healthcheck.html"
