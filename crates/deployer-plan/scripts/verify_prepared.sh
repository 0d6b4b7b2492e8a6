# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# A resume's prepare on a host where an earlier attempt completed the release:
# nothing is built again, but the release must still be there and complete.
# input releases
# input complete
# input release
if [ ! -d "$releases/$release" ] || [ -L "$releases/$release" ] || [ ! -e "$complete/$release" ]; then
    echo "deployer: release $release is no longer complete on this host; resume cannot skip it" >&2
    exit 1
fi
echo "deployer: release $release is already prepared on this host; not built again"
