# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Creates an environment's directories and empty shared files; never overwrites
# a shared file that exists. Only secrets/ is private: shared directories keep
# the login's umask, so a web server running as another user can read them.
# input root
# input releases
# input shared
# input complete
# input secrets
# input shared_dirs: newline-separated, relative to shared/
# input shared_files: newline-separated, relative to shared/
mkdir -p -- "$releases" "$shared" "$complete" "$root"
(
    umask 077
    mkdir -p -- "$secrets"
    chmod 700 -- "$secrets"
)
IFS='
'
set -f
for dir in $shared_dirs; do
    mkdir -p -- "$shared/$dir"
done
for file in $shared_files; do
    mkdir -p -- "$(dirname -- "$shared/$file")"
    [ -e "$shared/$file" ] || : >"$shared/$file"
done
