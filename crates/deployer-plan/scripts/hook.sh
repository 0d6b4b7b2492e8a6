# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Runs a hook's command with the deploy's facts exported: in the new release
# once it exists (after the prepare), else in the environment's root.
# input root
# input releases
# input current
# input previous
# input release
# input commit
# input environment
# input hook: the hook point's name
# input run: this run's id
# input hosts: every host of the run, space-separated
# input outcome: succeeded, failed or rolled_back after the run; empty during it
# args: the command
# library commands
release_dir=$releases/$release
live=$(readlink -- "$current" 2>/dev/null || true)
live=${live##*/}
# The release live before this deploy: current until the switch, then previous.
if [ "$live" = "$release" ]; then before=$(head -n 1 -- "$previous" 2>/dev/null || true); else before=$live; fi
export DEPLOYER_HOOK="$hook" DEPLOYER_RELEASE="$release" DEPLOYER_RELEASE_DIR="$release_dir" \
    DEPLOYER_COMMIT="$commit" DEPLOYER_ENVIRONMENT="$environment" DEPLOYER_PREVIOUS_RELEASE="$before" \
    DEPLOYER_DEPLOY_ID="$run" DEPLOYER_HOSTS="$hosts" DEPLOYER_OUTCOME="$outcome"
if [ -d "$release_dir" ]; then run_in "$release_dir" "$@"; else run_in "$root" "$@"; fi
