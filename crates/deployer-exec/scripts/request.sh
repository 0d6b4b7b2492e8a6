# shellcheck shell=sh disable=SC2154
# Part of a step that asks the controller for data during its phase (the `push`
# strategy's archive; deployer_exec::upload), put in by the wire ahead of the
# step's own script, with $deployer_want set to this run's marker for the step.
# (SC2154: the wire assigns it there.) The step's descriptor 3 is the session's
# standard input: the phase's shell has read its whole script by then (the wire
# makes it one function, called on the script's last line), so what comes next
# on it is only what the controller sends in reply.
#
# When the controller could guess what this host has, the wire also sets
# $deployer_guess to it and $deployer_ahead_size to the size of its reply for
# that guess, and defines deployer_ahead_decode, which prints that reply (held
# in the script in base64): a host that has what was guessed takes it from there, and never asks
# (a round trip saved). Any other host asks, as without a guess.

# deployer_request WORD: asks for the step's data, telling the controller WORD
# (what this host already has to build on, or `none`), unless the script holds
# the reply for WORD already. One line on the output, with the run's marker: no
# output of a step can fake it.
deployer_request() {
    deployer_ahead=
    if [ -n "${deployer_guess:-}" ] && [ "$1" = "$deployer_guess" ] && command -v base64 >/dev/null 2>&1; then
        deployer_ahead=1
        return 0
    fi
    printf '%s %s\n' "$deployer_want" "$1"
}

# deployer_receive FILE: the data to FILE (0600): from the script, or the
# controller's reply on descriptor 3 (a line with the size in bytes, then the
# bytes, then the end of the input, so no tool here can read past them, whatever
# its buffering). Data that stops short (the controller went away, or could not
# make it) leaves no FILE.
deployer_receive() {
    if [ -n "${deployer_ahead:-}" ]; then
        deployer_size=$deployer_ahead_size
        deployer_written=$(umask 077 && deployer_ahead_decode >"$1" && echo written) || true
    else
        deployer_size=
        IFS= read -r deployer_size <&3 || true
        case $deployer_size in
            '' | *[!0-9]*)
                echo "deployer: this machine sent no data for this step" >&2
                return 1
                ;;
        esac
        deployer_written=$(umask 077 && cat <&3 >"$1" && echo written) || true
    fi
    if [ "$deployer_written" != written ]; then
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
