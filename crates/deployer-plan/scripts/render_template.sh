# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Writes a rendered template into the new release.
# input releases
# input release
# input dest: relative to the release
# input mode: octal
# input content
# library release_paths
# library write_file
release_dir=$releases/$release
refuse_symlinked_parents "$dest"
mkdir -p -- "$(dirname -- "$release_dir/$dest")"
write_file "$release_dir/$dest" "$mode" "$content"
