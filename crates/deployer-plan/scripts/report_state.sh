# shellcheck shell=sh disable=SC2154
# The planner assigns every input above this text, each through shell::quote
# (SC2154: they are assigned there, not here); comment lines are not sent.
# Prints the host's releases, history and lock (status, and the rollback target).
# input releases
# input current
# input previous
# input complete
# input created
# input lock
# input lock_owner
# input history
# input maintenance_page: where begin_upgrade puts the 503 page
# input revert
# library report
report_state
