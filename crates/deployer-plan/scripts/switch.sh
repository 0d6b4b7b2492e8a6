# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Points current at a complete release: a new link under a temporary name, then
# a rename over current. Readers always see the old or the new release. What
# current and previous held before is kept in undo/, so undoing this switch puts
# back exactly that, even a link deployer did not make (an adopted layout).
# input root
# input releases
# input current
# input current_tmp
# input complete
# input previous
# input previous_tmp
# input undo
# input release
if [ ! -e "$complete/$release" ]; then
    echo "deployer: release $release is not complete on this host" >&2
    exit 1
fi
before=$(readlink -- "$current" 2>/dev/null || true)
[ -d "$undo" ] || mkdir -p -- "$undo"
printf '%s' "$before" >"$undo/current.tmp"
mv -f -- "$undo/current.tmp" "$undo/current"
if [ -f "$previous" ]; then cp -f -- "$previous" "$undo/previous"; else rm -f -- "$undo/previous"; fi
printf '%s\n' "${before##*/}" >"$previous_tmp"
mv -f -- "$previous_tmp" "$previous"
if [ -e "$current_tmp" ] || [ -L "$current_tmp" ]; then rm -f -- "$current_tmp"; fi
ln -s -- "$releases/$release" "$current_tmp"
mv -T -- "$current_tmp" "$current"
sync -- "$root" 2>/dev/null || true
