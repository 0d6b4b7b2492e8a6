# shellcheck shell=sh disable=SC2154
# Prints this host's deploy state, one fact per line. The format is read by
# deployer_plan::protocol::report, which documents it; change both together.
# Uses the layout variables releases, current, previous, complete, created, lock,
# lock_owner, history and maintenance_page (the 503 page's path), which the
# calling script declares.

report_state() {
    link=$(readlink -- "$current" 2>/dev/null || true)
    case $link in
        "") ;;
        "$releases"/* | releases/*) printf 'DEPLOYER-STATE current=%s\n' "${link##*/}" ;;
        *) printf 'DEPLOYER-STATE current_elsewhere=%s\n' "$link" ;;
    esac
    if [ -f "$previous" ]; then
        printf 'DEPLOYER-STATE previous=%s\n' "$(head -n 1 -- "$previous")"
    fi
    for entry in "$releases"/*; do
        if [ -d "$entry" ]; then printf 'DEPLOYER-STATE release=%s\n' "${entry##*/}"; fi
    done
    for entry in "$complete"/*; do
        if [ -e "$entry" ]; then printf 'DEPLOYER-STATE complete=%s\n' "${entry##*/}"; fi
    done
    for entry in "$created"/*; do
        if [ -e "$entry" ]; then printf 'DEPLOYER-STATE created=%s\n' "${entry##*/}"; fi
    done
    if [ -e "$maintenance_page" ]; then echo 'DEPLOYER-STATE maintenance=up'; else echo 'DEPLOYER-STATE maintenance=down'; fi
    if [ -d "$lock" ]; then
        echo 'DEPLOYER-STATE lock=held'
        sed 's/^/DEPLOYER-LOCK /' -- "$lock_owner" 2>/dev/null || true
    else
        echo 'DEPLOYER-STATE lock=free'
    fi
    # Dead-man's switches armed and not yet confirmed: one marker per deploy id.
    for entry in "$revert"/*; do
        case $entry in *.reverted | */log) continue ;; esac
        if [ -f "$entry" ]; then printf 'DEPLOYER-STATE armed=%s\n' "${entry##*/}"; fi
    done
    # The newest events are enough to choose a rollback target and show status.
    if [ -f "$history" ]; then
        tail -n 2000 -- "$history" | sed 's/^/DEPLOYER-HISTORY /'
    fi
}
