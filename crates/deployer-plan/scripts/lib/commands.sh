# shellcheck shell=sh
# Runs each command in a directory, with standard input closed (the script
# itself arrives on standard input). Commands come from the configuration and
# are shell code by design.
run_in() {
    directory=$1
    shift
    for command do
        (
            cd -- "$directory" || exit
            eval "$command"
        ) </dev/null
    done
}
