# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Writes each secret to secrets/<name>, 0600 in a 0700 directory, through a
# temporary file and a rename. The values travel inside the script on stdin.
# input secrets
# args: name, value, name, value, ...
# library write_file
umask 077
mkdir -p -- "$secrets"
chmod 700 -- "$secrets"
while [ "$#" -gt 1 ]; do
    write_file "$secrets/$1" 0600 "$2"
    shift 2
done
