# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Runs a role's health check in current until it passes or the retries run out.
# input current
# input environment
# input check_command
# input check_timeout: seconds per attempt
# input retries
# input interval: seconds between attempts
# library live_release
export_live_release
attempt=1
until (cd -- "$current" && timeout "$check_timeout" sh -c "$check_command") </dev/null; do
    if [ "$attempt" -gt "$retries" ]; then
        echo "deployer: health check failed $((retries + 1)) time(s)" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep "$interval"
done
