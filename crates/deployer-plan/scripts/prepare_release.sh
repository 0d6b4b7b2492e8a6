# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Claims releases/<release> (see lib/claim_release.sh), fetches the pinned commit
# into the host's mirror (cloning it the first time; nothing to do when a `fetch`
# phase already did) and extracts it into the release.
# input releases
# input shared
# input complete
# input created
# input mirror
# input mirror_partial
# input repo
# input commit
# input release
# input run: this run's id
# input reclaim: yes in a resume
# library claim_release
# library mirror
claim_release
update_mirror
# The archive's name derives from the release this run just claimed, so it is ours.
archive=$releases/.$release.tar
rm -f -- "$archive"
git -C "$mirror" archive --format=tar --output="$archive" --end-of-options "$commit"
tar -x -f "$archive" -C "$release_dir"
rm -f -- "$archive"
