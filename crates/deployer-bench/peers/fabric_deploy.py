"""The workload with Fabric (3.x, Fabric 2's API): every step on every host at
once with a ThreadingGroup (Fabric's documented parallel mode), the migration on
the first host; one connection per host for the whole deploy.

    python fabric_deploy.py KEY HOST...      (HOST: user@address:port)
"""

import sys

from fabric import ThreadingGroup

from workload import STEPS

key, *hosts = sys.argv[1:]
group = ThreadingGroup(
    *hosts,
    connect_kwargs={"key_filename": key, "look_for_keys": False, "allow_agent": False},
)
first = next(iter(group))
for _name, command, once in STEPS:
    if once:
        first.run(command, hide=True, in_stream=False)
    else:
        group.run(command, hide=True, in_stream=False)
group.close()
