# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Keeps the newest complete releases; removes unfinished ones first; never
# removes current, the previous release or this run's release.
# input releases
# input current
# input previous
# input complete
# input keep
# input keep_also: this run's release
live=$(readlink -- "$current" 2>/dev/null || true)
live=${live##*/}
before=$(cat -- "$previous" 2>/dev/null || true)
cd -- "$releases" || exit
set --
for release in *; do
    [ -d "$release" ] || continue
    if [ ! -e "$complete/$release" ] && [ "$release" != "$live" ]; then set -- "$@" "$release"; fi
done
if [ "$#" -gt 0 ]; then rm -rf -- "$@"; fi
printf '%s\n' * | sort -r | {
    count=0
    set --
    while IFS= read -r release; do
        [ -e "$complete/$release" ] || continue
        count=$((count + 1))
        [ "$count" -gt "$keep" ] || continue
        case $release in "$live" | "$before" | "$keep_also") continue ;; esac
        set -- "$@" "$release"
    done
    # One rm for all (not one process per release): thousands prune fast.
    if [ "$#" -gt 0 ]; then
        rm -rf -- "$@"
        (cd -- "$complete" && rm -f -- "$@")
    fi
}
