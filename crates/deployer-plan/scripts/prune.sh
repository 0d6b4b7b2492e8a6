# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Keeps the newest complete releases (newest by when they were completed on this
# host, never by their names or the controller's clock). Removes only what
# deployer made: complete releases beyond the count, and unfinished releases a
# failed run created; never current, the previous release, this run's release,
# or a release deployer did not create (an adopted layout's).
# Removing a release is slow (thousands of unlinks, most of a redeploy's host
# CPU after the checkout), so under the lock a release only leaves releases/ by
# a rename into pruned/<run>/ (same filesystem, so atomic and instant); the
# delete runs after, detached and at low priority, and this deploy does not wait
# for it. What an interrupted delete left in pruned/ is deleted by the next
# prune. pruned/ only ever holds what a prune moved there.
# input releases
# input pruned
# input run: this run's id
# input current
# input previous
# input complete
# input created
# input keep
# input keep_also: this run's release
# take_out RELEASE...: moves the releases (names in releases/) into this run's
# pruned/<run>/.
take_out() {
    [ -d "$pruned/$run" ] || mkdir -p -- "$pruned/$run"
    mv -- "$@" "$pruned/$run/"
}
live=$(readlink -- "$current" 2>/dev/null || true)
live=${live##*/}
# One line, a validated release name (read by the shell: no process).
before=
if [ -f "$previous" ]; then IFS= read -r before 2>/dev/null <"$previous" || true; fi
cd -- "$releases" || exit
set --
for release in *; do
    [ -d "$release" ] || continue
    case $release in "$live" | "$before" | "$keep_also") continue ;; esac
    if [ ! -e "$complete/$release" ] && [ -e "$created/$release" ]; then set -- "$@" "$release"; fi
done
if [ "$#" -gt 0 ]; then
    take_out "$@"
    (cd -- "$created" && rm -f -- "$@")
fi
# Only more complete releases than are kept can leave (counted by a glob: no
# process while a host has fewer).
set -- "$complete"/*
if [ "$#" -gt "$keep" ]; then
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
        # One mv for all (not one process per release): thousands prune fast.
        if [ "$#" -gt 0 ]; then
            take_out "$@"
            (cd -- "$complete" && rm -f -- "$@")
            if [ -d "$created" ]; then (cd -- "$created" && rm -f -- "$@"); fi
        fi
    }
fi
# Deletes what is in pruned/: this run's releases, and what earlier prunes
# moved there and did not finish deleting (a delete still running finishes
# those too: rm -rf of one tree twice is harmless; no later run's directory can
# be there, as this run holds the lock). In its own session, so no time limit or
# stop of this step reaches it, holding none of the session's streams, so the
# phase ends at once. Where setsid or nice is missing, deleted here.
set --
for taken in "$pruned"/*; do
    if [ -d "$taken" ]; then set -- "$@" "$taken"; fi
done
if [ "$#" -gt 0 ]; then
    if command -v setsid >/dev/null 2>&1 && command -v nice >/dev/null 2>&1; then
        setsid nice -n 10 rm -rf -- "$@" </dev/null >/dev/null 2>&1 &
    else
        rm -rf -- "$@"
    fi
fi
