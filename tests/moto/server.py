"""moto's server, with the Auto Scaling instance refresh API that moto lacks.

    python3 server.py -H 127.0.0.1 -p PORT      (moto_server's arguments)

moto answers StartInstanceRefresh, DescribeInstanceRefreshes,
CancelInstanceRefresh and RollbackInstanceRefresh with HTTP 500. This adds them
the way moto emulates everything else, synchronously: a refresh does at once
what AWS does over minutes (the group takes the desired launch template
version; every instance on another image is replaced, launching before
terminating) and is recorded Successful. So a test sees the end state AWS
reaches; a refresh's progress, failure and rollback are covered by deployer-aws's
unit tests against a stub instead.
"""

import datetime
import sys
import uuid

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.server import main

# (account, region, group) -> the group's refreshes, newest first.
REFRESHES = {}


class InstanceRefreshInProgress(AutoscalingClientError):
    code = "InstanceRefreshInProgress"


class ActiveInstanceRefreshNotFound(AutoscalingClientError):
    code = "ActiveInstanceRefreshNotFound"


def _refreshes(response, group):
    return REFRESHES.setdefault((response.current_account, response.region, group), [])


def _group(response):
    name = response._get_param("AutoScalingGroupName")
    group = response.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - {name}")
    return name, group


def start_instance_refresh(self):
    name, group = _group(self)
    desired = self._get_param("DesiredConfiguration") or {}
    template = desired.get("LaunchTemplate")
    if template:
        group._set_launch_configuration(None, template, None)
    image = group.image_id
    old = [state.instance.id for state in group.instance_states if state.instance.image_id != image]
    backend = self.autoscaling_backend
    if old:
        # Launch before terminate, as MaxHealthyPercentage above 100 asks.
        backend.set_desired_capacity(name, group.desired_capacity + len(old))
        for instance_id in old:
            backend.terminate_instance(instance_id, should_decrement=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    refresh = {
        "InstanceRefreshId": str(uuid.uuid4()),
        "AutoScalingGroupName": name,
        "Status": "Successful",
        "StatusReason": "",
        "StartTime": now,
        "EndTime": now,
        "PercentageComplete": 100,
        "InstancesToUpdate": 0,
        "DesiredConfiguration": desired,
        "Preferences": self._get_param("Preferences") or {},
    }
    _refreshes(self, name).insert(0, refresh)
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


def describe_instance_refreshes(self):
    name, _ = _group(self)
    ids = self._get_param("InstanceRefreshIds") or []
    found = [refresh for refresh in _refreshes(self, name) if not ids or refresh["InstanceRefreshId"] in ids]
    return ActionResult({"InstanceRefreshes": found})


def _no_active_refresh(self):
    name, _ = _group(self)
    # Every emulated refresh is over the moment it starts.
    raise ActiveInstanceRefreshNotFound(f"No in progress or pending Instance Refresh found for {name}")


AutoScalingResponse.start_instance_refresh = start_instance_refresh
AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
AutoScalingResponse.cancel_instance_refresh = _no_active_refresh
AutoScalingResponse.rollback_instance_refresh = _no_active_refresh

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
