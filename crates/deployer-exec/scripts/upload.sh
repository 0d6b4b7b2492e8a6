# shellcheck shell=sh
# How the session of a phase that receives data from the controller starts on
# the host (the `push` strategy's archive; deployer_exec::upload):
#   sh -c "<this file>" sh FILE SIZE
# Standard input is SIZE bytes of data, then the phase's script. The data goes
# to FILE (0600; its directory is made), read by GNU `head -c`, which reads no
# byte past SIZE, so the script that follows reaches the shell whole. Another
# head may read ahead (BusyBox's reads through stdio): the shell would then
# start inside the script, and run its tail. So any other head is refused
# before a byte is read, and nothing runs. If the copy
# fails, nothing runs: the rest of the input may be data, never to be taken for
# a script. One that comes short (the controller went away) is caught by the
# step that takes FILE, which checks its digest. Whatever of FILE is left when
# the script ends (that step moves it away), is removed.
set +vx
umask 077
case $(head --version 2>/dev/null) in
    *GNU*) ;;
    *)
        echo "deployer: receiving what this machine sends needs GNU head (coreutils) on this host" >&2
        exit 1
        ;;
esac
if ! { mkdir -p -- "${1%/*}" && head -c "$2" >"$1"; }; then
    rm -f -- "$1"
    echo "deployer: could not write what this machine sent to $1" >&2
    exit 1
fi
sh -s
status=$?
rm -f -- "$1"
exit "$status"
