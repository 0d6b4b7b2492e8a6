# shellcheck shell=sh disable=SC2154
# unpack_pushed START DIR: extracts the compressed tar that starts at byte
# START (counted from 1) of the pushed archive $pushed into DIR, decompressed
# by what $archive_type says (gzip or zstd: `zstd`, not tar's --zstd, which
# needs GNU tar 1.31, 2019). Both exit statuses count: the decompressor's comes
# back on descriptor 3 when it fails (a damaged archive); `echo $?` after it
# would not run, since under set -e a failure ends that side of the pipe first.
unpack_pushed() {
    if unpack_status=$(
        { { tail -c "+$1" -- "$pushed" | if [ "$archive_type" = zstd ]; then zstd -q -d -c; else gzip -d -c; fi 3>&- ||
            echo "$?" >&3; } |
            tar -x -f - -C "$2" 3>&- 1>&2; } 3>&1
    ); then
        tar_status=0
    else
        tar_status=$?
    fi
    # 141 is SIGPIPE: tar stopped reading, which only matters if tar failed.
    case $unpack_status in
        '' | 141) ;;
        *)
            echo "deployer: the pushed archive of release $release is damaged ($archive_type status $unpack_status)" >&2
            exit 1
            ;;
    esac
    if [ "$tar_status" != 0 ]; then
        echo "deployer: tar could not extract the pushed archive of release $release (status $tar_status)" >&2
        exit 1
    fi
}
