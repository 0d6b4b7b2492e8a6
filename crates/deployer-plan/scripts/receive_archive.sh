# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# The `push` strategy's transfer: the controller made a gzipped tar of the pinned
# commit; it arrives here base64-encoded (one word, nothing to quote) and is kept
# under uploads/ by release id until the prepare extracts it. Its SHA-256 is
# checked, so a transfer cut short is never extracted.
# input uploads
# input release
# input archive: the archive, base64
# input archive_sha256: its SHA-256, hex
umask 077
mkdir -p -- "$uploads"
partial=$uploads/.$release.partial
printf '%s' "$archive" | base64 -d >"$partial"
unset archive
if ! printf '%s  %s\n' "$archive_sha256" "$partial" | sha256sum -c --status -; then
    rm -f -- "$partial"
    echo "deployer: the pushed archive of release $release arrived damaged (SHA-256 mismatch)" >&2
    exit 1
fi
mv -- "$partial" "$uploads/$release.tar.gz"
