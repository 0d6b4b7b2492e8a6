# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# The `push` strategy's prepare: claims releases/<release> (see
# lib/claim_release.sh) and extracts the archive the `fetch` phase delivered.
# input releases
# input shared
# input complete
# input created
# input uploads
# input release
# input run: this run's id
# input reclaim: yes in a resume
# library claim_release
claim_release
pushed=$uploads/$release.tar.gz
if [ ! -f "$pushed" ]; then
    echo "deployer: the pushed archive of release $release is not on this host" >&2
    exit 1
fi
tar -x -z -f "$pushed" -C "$release_dir"
rm -f -- "$pushed"
