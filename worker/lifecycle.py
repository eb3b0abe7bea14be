"""EC2: this instance's own Auto Scaling lifecycle actions - its current state, heartbeats, completion.

The worker completes actions by instance id, without the token a notification would carry
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/completing-lifecycle-hooks.html). Instance
metadata tells only the *target* state, never the current one
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html):
whether an action still waits (`Pending:Wait`, `Terminating:Wait`) or was completed (`InService`,
`Terminating:Proceed`) comes from DescribeAutoScalingInstances. An action is completed only while the
group shows the instance waiting in it, so a worker restarted on the same instance never completes one
twice (AWS would refuse the second call: ValidationError "No active Lifecycle Action found").

AWS calls: autoscaling:DescribeAutoScalingInstances, autoscaling:RecordLifecycleActionHeartbeat,
autoscaling:CompleteLifecycleAction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

log = logging.getLogger("worker.lifecycle")

PENDING_WAIT = "Pending:Wait"
TERMINATING_WAIT = "Terminating:Wait"
# Between attempts to complete an action whose call failed (the hook's timeout is minutes long).
_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 20.0)


class LifecycleActions:
    def __init__(
        self, autoscaling: AutoScalingClient, group_name: str, instance_id: Callable[[], str]
    ) -> None:
        self._autoscaling = autoscaling
        self._group_name = group_name
        self._instance_id = instance_id

    def state(self) -> str | None:
        """The instance's current lifecycle state in its group; None when no group has it."""
        described = self._autoscaling.describe_auto_scaling_instances(InstanceIds=[self._instance_id()])
        instances = described.get("AutoScalingInstances", [])
        return instances[0]["LifecycleState"] if instances else None

    def heartbeat(self, hook: str) -> None:
        """Restart the hook's heartbeat timeout (raises on failure)."""
        self._autoscaling.record_lifecycle_action_heartbeat(
            LifecycleHookName=hook, AutoScalingGroupName=self._group_name, InstanceId=self._instance_id()
        )

    def complete(
        self, hook: str, waiting_in: str, result: Literal["CONTINUE", "ABANDON"] = "CONTINUE"
    ) -> bool:
        """CompleteLifecycleAction when the instance waits in `waiting_in`; True if this call completed it."""
        state = self.state()
        if state != waiting_in:
            log.info("no lifecycle action to complete", extra={"hook": hook, "lifecycle_state": state})
            return False
        self._autoscaling.complete_lifecycle_action(
            LifecycleHookName=hook,
            AutoScalingGroupName=self._group_name,
            InstanceId=self._instance_id(),
            LifecycleActionResult=result,
        )
        log.info("lifecycle action completed", extra={"hook": hook, "result": result})
        return True

    def complete_with_retries(self, hook: str, waiting_in: str, stop: threading.Event) -> bool:
        """`complete`, tried again after failures (botocore already retried each call) until it
        succeeds, nothing waits any more, or `stop` is set: a transient API error must not leave a
        healthy instance to the hook's timeout."""
        for delay in (*_RETRY_SECONDS, None):
            try:
                return self.complete(hook, waiting_in)
            except Exception as error:  # throttling, network: try again while the action waits
                log.warning("cannot complete the lifecycle action", extra={"hook": hook, "error": str(error)})
            if delay is None or stop.wait(delay):
                return False
        return False
