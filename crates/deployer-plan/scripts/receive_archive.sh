# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# The `push` strategy's transfer. The host asks this machine for the release's
# archive (deployer_request, from deployer-exec's request.sh), saying what it
# can build on: with hard-linked releases, the commit its pristine tree holds,
# so that only the files that changed since come (a delta); otherwise nothing.
# The reply arrives on the phase's own session as raw bytes (deployer_receive:
# its size is checked) and is kept under uploads/ by release id until the
# prepare unpacks it; the compressor's own check sum is verified then. (No
# digest: SSH already authenticates every byte, and hashing 20 MB cost a host a
# tenth of a second.) Whatever is left at $incoming when the phase ends, the
# undo removes.
# input uploads
# input release
# input incoming: where the reply is written as it arrives
# input archive_type: gzip or zstd
# input hardlink: yes with execution.hardlink_releases
# input pushed_tree
# input pushed_tree_commit
# library pushed_archive
umask 077
pushed_archive
base=none
if [ "$hardlink" = yes ] && [ -d "$pushed_tree" ] && [ -f "$pushed_tree_commit" ]; then
    tree_commit=$(cat -- "$pushed_tree_commit")
    # A commit id (SHA-1 or SHA-256), or the mark is not deployer's: nothing then.
    case ${#tree_commit}:$tree_commit in
        *:*[!0-9a-f]*) ;;
        40:* | 64:*)
            # The tree's files are hard links in every release: one changed in
            # place there (not replaced) changed here too, and is newer than the
            # mark the prepare left. Then the tree is not the commit's any more,
            # and the whole archive comes.
            if changed=$(find "$pushed_tree" -newer "$pushed_tree_commit" -print -quit 2>/dev/null) &&
                [ -z "$changed" ]; then
                base=$tree_commit
            else
                echo "deployer: a file of the pristine tree changed after it was written (${changed:-unknown}); the whole archive is sent"
            fi
            ;;
    esac
fi
if [ ! -d "$uploads" ]; then mkdir -p -- "$uploads"; fi
deployer_request "$base"
deployer_receive "$incoming"
mv -- "$incoming" "$pushed"
