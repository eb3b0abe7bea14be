"""EC2 termination, whatever the cause: notice it, drain as on SIGTERM, then let the instance go.

Scale-in protection only covers scale-in. Spot interruptions, Capacity Rebalancing, instance
refresh and health replacement terminate busy instances anyway. Two notices, both read through
IMDSv2 every WORKER_TERMINATION_POLL_SECONDS (5 s, as AWS recommends for the Spot notice):

* `spot/instance-action`: 404 until EC2 schedules the interruption, then JSON with the action and
  its time, about 2 minutes ahead (EC2 user guide, "Spot Instance interruption notices");
* `autoscaling/target-lifecycle-state`: "Terminated" once the Auto Scaling group has decided to
  terminate the instance; with the template's termination lifecycle hook the instance then waits
  in Terminating:Wait until CompleteLifecycleAction (EC2 Auto Scaling user guide, "Retrieve the
  target lifecycle state through instance metadata").

A notice starts the same drain as SIGTERM (Consumer.request_stop). On a lifecycle notice the
worker first records a heartbeat, which restarts the hook's timeout from the moment it noticed;
after the drain it completes the action with CONTINUE, so the instance goes as soon as the work
is safe rather than at the end of the timeout. AWS calls: autoscaling:RecordLifecycleActionHeartbeat,
autoscaling:CompleteLifecycleAction (the template scopes both to the fleet's group).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from worker.imds import Imds

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

log = logging.getLogger("worker.termination")

SPOT_PATH = "spot/instance-action"
LIFECYCLE_PATH = "autoscaling/target-lifecycle-state"
TERMINATED = "Terminated"


class TerminationWatcher:
    def __init__(
        self,
        imds: Imds,
        autoscaling: AutoScalingClient,
        group_name: str,
        hook_name: str,
        instance_id: Callable[[], str],
        *,
        poll_seconds: float,
    ) -> None:
        self._imds = imds
        self._autoscaling = autoscaling
        self._group_name = group_name
        self._hook_name = hook_name
        self._instance_id = instance_id
        self._poll_seconds = poll_seconds
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.lifecycle_noticed = False

    def check(self) -> str | None:
        """Read both notices once; the reason to drain, or None. Metadata errors are logged, not fatal."""
        try:
            spot = self._imds.get(SPOT_PATH)
            if spot is not None:
                return f"spot interruption notice: {_describe_spot(spot)}"
            if self._hook_name and self._imds.get(LIFECYCLE_PATH) == TERMINATED:
                self._on_lifecycle_notice()
                return "auto scaling lifecycle: target state Terminated"
        except Exception as error:  # the metadata service is local and simple: keep polling
            log.warning("cannot read termination notices", extra={"error": str(error)})
        return None

    def start(self, drain: Callable[[str], None]) -> None:
        """Poll in a daemon thread until a notice (then call `drain` once) or `stop()`."""

        def poll() -> None:
            while not self._done.wait(self._poll_seconds):
                reason = self.check()
                if reason is not None:
                    drain(reason)
                    return

        self._thread = threading.Thread(target=poll, name="termination-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def complete_if_terminating(self) -> None:
        """After the drain: CompleteLifecycleAction if the group is terminating this instance."""
        if not self._hook_name:
            return
        try:
            if not self.lifecycle_noticed and self._imds.get(LIFECYCLE_PATH) != TERMINATED:
                return
            self._autoscaling.complete_lifecycle_action(
                LifecycleHookName=self._hook_name,
                AutoScalingGroupName=self._group_name,
                InstanceId=self._instance_id(),
                LifecycleActionResult="CONTINUE",
            )
        except Exception as error:  # the hook's timeout (DefaultResult CONTINUE) lets it go anyway
            log.warning("cannot complete the lifecycle action", extra={"error": str(error)})
            return
        log.info("lifecycle action completed", extra={"hook": self._hook_name, "result": "CONTINUE"})

    def _on_lifecycle_notice(self) -> None:
        self.lifecycle_noticed = True
        try:
            self._autoscaling.record_lifecycle_action_heartbeat(
                LifecycleHookName=self._hook_name,
                AutoScalingGroupName=self._group_name,
                InstanceId=self._instance_id(),
            )
        except Exception as error:  # the drain fits the hook's timeout without it
            log.warning("cannot record a lifecycle heartbeat", extra={"error": str(error)})


def _describe_spot(raw: str) -> str:
    try:
        notice = json.loads(raw)
    except ValueError:
        return raw.strip()
    if isinstance(notice, dict):
        return f"{notice.get('action', '?')} at {notice.get('time', '?')}"
    return raw.strip()
