# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Undo of a failed prepare: removes the release only if this run created it
# (its id is in created/<release>), it is not live, and it is unfinished. A
# complete release stays (never live, pruned later): `deployer resume` continues
# the deploy from it instead of building it again.
# input current
# input releases
# input complete
# input created
# input release
# input run: this run's id
if [ "$(head -n 1 -- "$created/$release" 2>/dev/null || true)" != "$run" ]; then
    exit 0
fi
if [ -e "$complete/$release" ]; then
    echo "deployer: keeping the complete release $release for \`deployer resume\`"
    exit 0
fi
if [ "$(readlink -- "$current" 2>/dev/null || true)" != "$releases/$release" ]; then
    rm -rf -- "${releases:?}/$release" "$releases/.$release.tar"
    rm -f -- "$created/$release"
fi
