# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Undo of receive_archive.sh: the archive this run pushed for its release.
# input uploads
# input release
# (.partial: where earlier versions decoded it, base64, inside the script.)
if [ -d "$uploads" ]; then
    rm -f -- "$uploads/.$release.incoming" "$uploads/.$release.partial" "$uploads/$release.tar.gz" \
        "$uploads/$release.tar.zst"
fi
