# shellcheck shell=sh disable=SC2154
# Part of a step that asks the controller for data during its phase (the `push`
# strategy's archive; deployer_exec::upload), put in by the wire ahead of the
# step's own script, with $deployer_want set to this run's marker for the step.
# (SC2154: the wire assigns it there.) The step's descriptor 3 is the session's
# standard input: the phase's shell has read its whole script by then (the wire
# makes it one function, called on the script's last line), so what comes next
# on it is only what the controller sends in reply.

# deployer_request WORD: asks for the step's data, telling the controller WORD
# (what this host already has to build on, or `none`). One line on the output,
# with the run's marker: no output of a step can fake it.
deployer_request() {
    printf '%s %s\n' "$deployer_want" "$1"
}

# deployer_receive FILE: the controller's reply to FILE (0600): a line with the
# size in bytes, then the bytes, then the end of the input (so no tool here can
# read past them, whatever its buffering). A reply that stops short (the
# controller went away, or could not make the data) leaves no FILE.
deployer_receive() {
    deployer_size=
    IFS= read -r deployer_size <&3 || true
    case $deployer_size in
        '' | *[!0-9]*)
            echo "deployer: this machine sent no data for this step" >&2
            return 1
            ;;
    esac
    if ! (umask 077 && cat <&3 >"$1"); then
        rm -f -- "$1"
        echo "deployer: could not write what this machine sent to $1" >&2
        return 1
    fi
    deployer_arrived=$(wc -c <"$1")
    if [ "$deployer_arrived" -ne "$deployer_size" ]; then
        rm -f -- "$1"
        echo "deployer: what this machine sent did not arrive whole ($deployer_arrived of $deployer_size bytes)" >&2
        return 1
    fi
}
