# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Confirms the deploy on this host: the dead-man's switch armed before the switch
# no longer fires. Fails if it already fired, so a deploy the host reverted is
# never recorded as done (`strict`); undo, which puts the host back anyway,
# does not fail on it.
# input revert
# input run: the deploy id
# input strict: yes or no
if rm -- "$revert/$run" 2>/dev/null; then
    exit 0
fi
if [ "$strict" = yes ] && [ -e "$revert/$run.reverted" ]; then
    echo "deployer: this host's dead-man's switch already reverted deploy $run" >&2
    exit 1
fi
