# shellcheck shell=sh
# Writes $3 to $1 with mode $2 through a temporary file in the same directory and
# a rename, so readers never see a partial file and a crash leaves the old one.
# The content is a shell word, not a here-document, so no value can end it early.
write_file() {
    temporary=$(dirname -- "$1")/.$(basename -- "$1").deployer-tmp
    rm -f -- "$temporary"
    (
        umask 077
        printf '%s' "$3" >"$temporary"
    )
    chmod "$2" -- "$temporary"
    mv -f -- "$temporary" "$1"
}
