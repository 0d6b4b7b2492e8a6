"""The workload with pyinfra (3.x): one `server.shell` operation per step, each
run on every host before the next starts (pyinfra's own order), the migration
with `_run_once`.

    pyinfra -y --parallel N pyinfra_inventory.py pyinfra_deploy.py
"""

from pyinfra.operations import server

from workload import STEPS

for name, command, once in STEPS:
    server.shell(name=name, commands=[command], _run_once=once)
