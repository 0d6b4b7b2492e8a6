"""The web role's health check: asks the running app for /health and checks
that it answers for the release `current` points at (DEPLOYER_RELEASE), so a
process that failed to restart and still serves the old code fails the deploy.
In production: `curl --fail http://127.0.0.1:<port>/health` plus this check."""

import json
import os
import sys
import urllib.request

sys.path.insert(0, os.getcwd())
from myproject import local_settings as settings  # noqa: E402

host = settings.ALLOWED_HOSTS[0]
request = urllib.request.Request(f"http://{settings.BIND}/health", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        health = json.load(response)
except OSError as error:
    sys.exit(f"the app does not answer on {settings.BIND}: {error}")
expected = os.environ.get("DEPLOYER_RELEASE")
if health["release"] != expected:
    sys.exit(f"the app serves release {health['release']}, not {expected}")
print(f"healthy: {settings.BIND} serves {health['release']}")
