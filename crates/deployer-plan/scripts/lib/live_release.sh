# shellcheck shell=sh disable=SC2154
# The variables build and migrate commands get, for commands that run in current
# (restart, health check): taken from what current points at when the step runs,
# so they are right after a switch back too.
export_live_release() {
    release_dir=$(readlink -- "$current" 2>/dev/null || true)
    export DEPLOYER_RELEASE="${release_dir##*/}" DEPLOYER_RELEASE_DIR="$release_dir" DEPLOYER_ENVIRONMENT="$environment"
}
