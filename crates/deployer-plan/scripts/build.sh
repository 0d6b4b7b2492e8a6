# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Runs build or migration commands in the new release, with its facts exported.
# input releases
# input release
# input commit
# input environment
# args: the commands
# library commands
release_dir=$releases/$release
export DEPLOYER_RELEASE="$release" DEPLOYER_RELEASE_DIR="$release_dir" DEPLOYER_COMMIT="$commit" DEPLOYER_ENVIRONMENT="$environment"
run_in "$release_dir" "$@"
