"""The peer benchmark's workload, shared by the Fabric and pyinfra scripts: a
Capistrano-style deploy of one release, step by step, as a user of either tool
would write it. Each command is plain shell; only how it reaches the hosts
differs between the tools.

Everything comes from the environment the benchmark sets:
PEER_ROOT (the deploy root on every host), PEER_URL (the repository),
PEER_RELEASE (the release id).
"""

import os

ROOT = os.environ["PEER_ROOT"]
URL = os.environ["PEER_URL"]
RELEASE = os.environ["PEER_RELEASE"]
RELEASE_DIR = f"{ROOT}/releases/{RELEASE}"

# (name, command, once): `once` runs on one host only, after every host
# finished the steps before it (the migration's fleet-wide barrier).
STEPS = [
    ("lock", f"mkdir -p {ROOT}/releases {ROOT}/shared && touch {ROOT}/shared/.env && mkdir {ROOT}/lock", False),
    ("clone", f"git clone --quiet --depth 1 --branch main -- {URL} {RELEASE_DIR}", False),
    ("link shared", f"ln -s {ROOT}/shared/.env {RELEASE_DIR}/.env", False),
    ("migrate", f"cd {RELEASE_DIR} && echo {RELEASE} >> {ROOT}/shared/migrations", True),
    ("switch", f"ln -sfn {RELEASE_DIR} {ROOT}/current.tmp && mv -T {ROOT}/current.tmp {ROOT}/current", False),
    ("restart", f"cd {ROOT}/current && test -f VERSION", False),
    ("prune", f"cd {ROOT}/releases && ls -1t | tail -n +6 | xargs -r rm -rf --", False),
    ("unlock", f"rmdir {ROOT}/lock", False),
]
