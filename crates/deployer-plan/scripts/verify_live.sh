# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# A server launched from a release image: `current` must already be that
# release, complete, or the image is not what this deploy built.
# input current
# input complete
# input release
live=$(readlink -- "$current" 2>/dev/null || true)
if [ "${live##*/}" != "$release" ] || [ ! -e "$complete/$release" ]; then
    echo "deployer: this server does not serve release $release (current is ${live:-missing})" >&2
    exit 1
fi
echo "deployer: serving release $release from its image"
