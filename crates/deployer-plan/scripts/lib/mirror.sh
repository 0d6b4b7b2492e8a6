# shellcheck shell=sh disable=SC2154
# Brings the host's bare mirror of $repo far enough to hold $commit, fetching
# only that commit. The first time without history, as cheap as a shallow clone
# (a repository on the host's own filesystem is cloned instead, which
# hardlinks), into a partial directory renamed once complete, so an interrupted
# fetch is never taken for a mirror. Later, only the objects the mirror lacks
# (refs/deployer/pinned keeps the last commit, so the server knows what the
# mirror has). A server that refuses a commit it does not advertise (git before
# protocol v2 without uploadpack.allowReachableSHA1InWant) gets the old way: the
# whole repository. Exits when the repository does not have the commit.
update_mirror() {
    if [ ! -d "$mirror" ]; then
        rm -rf -- "$mirror_partial"
        case $repo in
            /*)
                # A repository on this host's filesystem: a clone hardlinks its
                # objects, which costs less than any fetch.
                git clone --mirror --quiet -- "$repo" "$mirror_partial"
                ;;
            *)
                git init --quiet --bare -- "$mirror_partial"
                if ! git -C "$mirror_partial" fetch --quiet --depth=1 -- "$repo" "+$commit:refs/deployer/pinned" \
                    2>/dev/null; then
                    rm -rf -- "$mirror_partial"
                    git clone --mirror --quiet -- "$repo" "$mirror_partial"
                fi
                ;;
        esac
        mv -- "$mirror_partial" "$mirror"
    fi
    # Every process counts on a large fleet's hosts: the common case (the
    # commit fetched, or already there) runs git as few times as it can.
    if git -C "$mirror" cat-file -e "$commit^{commit}" 2>/dev/null; then
        return 0
    fi
    # A mirror made by a full clone stays full; a shallow one (git keeps its
    # boundary in `shallow`) stays shallow.
    depth=
    if [ -f "$mirror/shallow" ]; then depth=--depth=1; fi
    # No automatic maintenance after it (one process less; gc.auto for git before 2.29).
    # A fetch that succeeds has the commit: refs/deployer/pinned names it.
    if fetched=$(git -C "$mirror" -c maintenance.auto=false -c gc.auto=0 fetch --quiet ${depth:+"$depth"} -- \
        "$repo" "+$commit:refs/deployer/pinned" 2>&1); then
        maintain_mirror
        return 0
    fi
    git -C "$mirror" fetch --quiet --prune -- "$repo" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' ||
        printf '%s\n' "$fetched" >&2
    git -C "$mirror" cat-file -e "$commit^{commit}" || {
        echo "deployer: commit $commit is not in $repo" >&2
        exit 1
    }
    maintain_mirror
}

# The fetches above turn git's automatic maintenance off (a process or more per
# deploy), yet each leaves a pack or loose objects behind, and a mirror with
# thousands of them slows every later fetch and checkout. When git's own
# thresholds are passed (gc.autoPackLimit, 50 packs; gc.auto, about 6,700 loose
# objects, which git estimates from objects/17/ as done here), `git gc --auto`
# runs detached, at low priority, after the step (git keeps the objects a
# concurrent fetch or checkout reads). Counted by globs: no process at all
# while there is nothing to do.
maintain_mirror() {
    set -- "$mirror"/objects/pack/*.pack
    maintain_packs=$#
    set -- "$mirror"/objects/17/*
    if [ "$maintain_packs" -le 50 ] && [ "$#" -le 27 ]; then
        return 0
    fi
    if command -v setsid >/dev/null 2>&1 && command -v nice >/dev/null 2>&1; then
        setsid nice -n 10 git -C "$mirror" gc --auto --quiet </dev/null >/dev/null 2>&1 &
    fi
}
