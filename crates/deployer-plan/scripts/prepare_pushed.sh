# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# The `push` strategy's prepare: claims releases/<release> (see
# lib/claim_release.sh) and extracts the archive the `fetch` phase delivered.
# input releases
# input shared
# input complete
# input created
# input uploads
# input release
# input run: this run's id
# input reclaim: yes in a resume
# input archive_type: gzip or zstd
# library claim_release
# library pushed_archive
pushed_archive
claim_release
if [ ! -f "$pushed" ]; then
    echo "deployer: the pushed archive of release $release is not on this host" >&2
    exit 1
fi
if [ "$archive_type" = zstd ]; then
    # Through a pipe, not tar's --zstd (GNU tar 1.31, 2019): both exit statuses
    # count, zstd's coming back on descriptor 3 when it fails (a damaged archive).
    if zstd_status=$(
        { { zstd -q -d -c -- "$pushed" 3>&- || echo "$?" >&3; } |
            tar -x -f - -C "$release_dir" 3>&- 1>&2; } 3>&1
    ); then
        tar_status=0
    else
        tar_status=$?
    fi
    # 141 is SIGPIPE: tar stopped reading, which only matters if tar failed.
    case $zstd_status in
        '' | 141) ;;
        *)
            echo "deployer: the pushed archive of release $release is damaged (zstd status $zstd_status)" >&2
            exit 1
            ;;
    esac
    if [ "$tar_status" != 0 ]; then
        echo "deployer: tar could not extract the pushed archive of release $release (status $tar_status)" >&2
        exit 1
    fi
else
    tar -x -z -f "$pushed" -C "$release_dir"
fi
rm -f -- "$pushed"
