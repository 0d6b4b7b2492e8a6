# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Links shared directories and files into the new release.
# input releases
# input shared
# input release
# input shared_dirs: newline-separated, relative to shared/
# input shared_files: newline-separated, relative to shared/
# library release_paths
# shellcheck disable=SC2034 # read by link_into_release (release_paths)
release_dir=$releases/$release
IFS='
'
set -f
for dir in $shared_dirs; do
    mkdir -p -- "$shared/$dir"
    link_into_release "$dir"
done
for file in $shared_files; do
    if [ ! -e "$shared/$file" ]; then
        echo "deployer: shared file shared/$file does not exist; create it (create_environment does)" >&2
        exit 1
    fi
    link_into_release "$file"
done
