# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# The `push` strategy's transfer: the controller made a gzipped tar of the pinned
# commit, and the transport wrote it to $incoming ahead of this phase's script,
# on the same session (deployer-exec's upload.sh: raw bytes, nothing to encode
# or quote). A transfer cut short runs no script at all (the script comes after
# the data), so this step finding the file means it arrived; its size is
# checked all the same, and the compressor's own check sum is verified as the prepare
# extracts it (zstd's too). (No digest: SSH already authenticates every byte,
# and hashing 20 MB cost a host a tenth of a second.) It is kept under uploads/
# by release id
# until the prepare extracts it; whatever is left at $incoming when the phase
# ends, the transport removes.
# input uploads
# input release
# input incoming: where the transport wrote the archive
# input archive_size: its size in bytes
# input archive_type: gzip or zstd
# library pushed_archive
umask 077
pushed_archive
if ! arrived=$(wc -c <"$incoming" 2>/dev/null) || [ "$arrived" -ne "$archive_size" ]; then
    rm -f -- "$incoming"
    echo "deployer: the pushed archive of release $release did not arrive whole (${arrived:-no} bytes of $archive_size)" >&2
    exit 1
fi
mv -- "$incoming" "$pushed"
