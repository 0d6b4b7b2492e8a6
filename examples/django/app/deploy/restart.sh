#!/bin/sh
# Restarts the web process: the stand-in for `sudo supervisorctl restart
# myproject-web` (FabulAWS) or `sudo systemctl restart myproject-web`, so the
# example runs on hosts without either. Runs in `current`, the new release;
# `run/` and `log/` are shared directories, so they outlive the release.
set -eu
pid_file=run/web.pid

# Only our own server is stopped: a pid in a stale file may belong to anything.
is_our_server() {
    grep -q "manage.py" "/proc/$1/cmdline" 2>/dev/null
}

if [ -f "$pid_file" ]; then
    old=$(cat "$pid_file")
    case "$old" in '' | *[!0-9]*) old= ;; esac
    if [ -n "$old" ] && is_our_server "$old"; then
        kill "$old"
        tries=0
        while is_our_server "$old"; do
            tries=$((tries + 1))
            if [ "$tries" -gt 100 ]; then
                kill -9 "$old"
                break
            fi
            sleep 0.1
        done
    fi
    rm -f "$pid_file"
fi

# Its own session and no inherited output, so the deploy's ssh session ends.
setsid env/bin/python manage.py runserver </dev/null >>log/web.log 2>&1 &

# manage.py writes the pid file once the port is bound.
tries=0
until [ -s "$pid_file" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ]; then
        echo "the web process did not start; the end of log/web.log:" >&2
        tail -n 20 log/web.log >&2
        exit 1
    fi
    sleep 0.1
done
echo "web process $(cat "$pid_file") serves release ${DEPLOYER_RELEASE:-?}"
