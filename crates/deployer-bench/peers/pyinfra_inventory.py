"""The benchmark's hosts for pyinfra, from PEER_HOSTS (address:port, space
separated), PEER_USER, PEER_KEY and PEER_KNOWN_HOSTS; host keys checked."""

import os

hosts = [
    (
        entry.rsplit(":", 1)[0],
        {
            "ssh_port": int(entry.rsplit(":", 1)[1]),
            "ssh_user": os.environ["PEER_USER"],
            "ssh_key": os.environ["PEER_KEY"],
            "ssh_known_hosts_file": os.environ["PEER_KNOWN_HOSTS"],
            "ssh_strict_host_key_checking": "yes",
        },
    )
    for entry in os.environ["PEER_HOSTS"].split()
]
