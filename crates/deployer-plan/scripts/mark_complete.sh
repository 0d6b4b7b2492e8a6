# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Flushes the release to disk, then marks it complete: only complete releases
# can become current. What is flushed: the release's directories (their new
# entries) and its files. With hard-linked releases, only the files the release
# alone holds (written into it after the links: templates, build outputs): the
# prepare flushed the files git wrote into the pristine tree, and the others were
# flushed by the deploy that wrote them.
# input releases
# input complete
# input history
# input release
# input hardlink: yes with execution.hardlink_releases
# input history_entry: protocol::history::Entry::to_line
# library flush
if [ "$hardlink" = yes ]; then
    flush_paths "$releases/$release" -type d -o -type f -links 1
else
    flush_paths "$releases/$release" -type d -o -type f
fi
: >"$complete/$release"
sync -- "$complete" 2>/dev/null || true
printf '%s\n' "$history_entry" >>"$history"
