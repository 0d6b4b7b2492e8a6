# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Keeps the newest complete releases (newest by when they were completed on this
# host, never by their names or the controller's clock). Removes only what
# deployer made: complete releases beyond the count, and unfinished releases a
# failed run created; never current, the previous release, this run's release,
# or a release deployer did not create (an adopted layout's).
# input releases
# input current
# input previous
# input complete
# input created
# input keep
# input keep_also: this run's release
live=$(readlink -- "$current" 2>/dev/null || true)
live=${live##*/}
before=$(cat -- "$previous" 2>/dev/null || true)
cd -- "$releases" || exit
set --
for release in *; do
    [ -d "$release" ] || continue
    case $release in "$live" | "$before" | "$keep_also") continue ;; esac
    if [ ! -e "$complete/$release" ] && [ -e "$created/$release" ]; then set -- "$@" "$release"; fi
done
if [ "$#" -gt 0 ]; then
    rm -rf -- "$@"
    (cd -- "$created" && rm -f -- "$@")
fi
# ls -t: newest completion first; release names are validated, one per line.
# shellcheck disable=SC2012
ls -1t -- "$complete" | {
    count=0
    set --
    while IFS= read -r release; do
        [ -d "$release" ] || continue
        count=$((count + 1))
        [ "$count" -gt "$keep" ] || continue
        case $release in "$live" | "$before" | "$keep_also") continue ;; esac
        set -- "$@" "$release"
    done
    # One rm for all (not one process per release): thousands prune fast.
    if [ "$#" -gt 0 ]; then
        rm -rf -- "$@"
        (cd -- "$complete" && rm -f -- "$@")
        if [ -d "$created" ]; then (cd -- "$created" && rm -f -- "$@"); fi
    fi
}
