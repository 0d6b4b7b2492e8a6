# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Puts up the maintenance page. The health-check override goes up first, so a
# load balancer never sees the 503.
# input directory
# input healthcheck_page
# input write_healthcheck: yes or no
# input upgrade_page
# library write_file
mkdir -p -- "$directory"
if [ "$write_healthcheck" = yes ]; then
    write_file "$directory/healthcheck.html" 0644 "$healthcheck_page"
fi
write_file "$directory/503.html" 0644 "$upgrade_page"
