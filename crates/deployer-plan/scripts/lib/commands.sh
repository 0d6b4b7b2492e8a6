# shellcheck shell=sh
# Runs each command in a directory, with standard input closed (the script
# itself arrives on standard input). Commands come from the configuration and
# are shell code by design. They run with `set -e` (the first failing command
# fails the step) but not `set -u`: a user's script may read variables that are
# not set, as it would under Capistrano or Fabric.
run_in() {
    directory=$1
    shift
    for command do
        (
            cd -- "$directory" || exit
            set +u
            eval "$command"
        ) </dev/null
    done
}
