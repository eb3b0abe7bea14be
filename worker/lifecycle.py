"""EC2: this instance's own Auto Scaling lifecycle actions - its current state, heartbeats, completion.

The worker completes actions by instance id, without the token a notification would carry
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/completing-lifecycle-hooks.html). Instance
metadata tells only the *target* state, never the current one
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html):
whether an action still waits (`Pending:Wait`, `Terminating:Wait`) or was completed (`InService`,
`Terminating:Proceed`) comes from DescribeAutoScalingInstances. An action is completed only while the
group shows the instance waiting in it, so a worker restarted on the same instance never completes one
twice (AWS would refuse the second call: ValidationError "No active Lifecycle Action found").

Every lifecycle call follows one rule (`LifecycleActions._persist`): a failure that may pass
(throttling, a 5xx, the network) is tried again with capped exponential backoff and full jitter for
as long as the action can still be completed, that is until the hook's timeout has surely passed
since the action was last known alive (noticed, or heartbeated); a permanent answer stops at once.
All EC2 Auto Scaling calls of the account share one throttle bucket whose rate AWS does not publish
(https://repost.aws/knowledge-center/autoscaling-api-calls-throttled), so a throttle can outlast any
fixed number of retries: giving up early would let the launch hook ABANDON a healthy instance.

AWS calls: autoscaling:DescribeAutoScalingInstances, autoscaling:RecordLifecycleActionHeartbeat,
autoscaling:CompleteLifecycleAction.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError

from worker.settings import HOOK_TIMEOUT_RANGE

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

log = logging.getLogger("worker.lifecycle")

PENDING_WAIT = "Pending:Wait"
TERMINATING_WAIT = "Terminating:Wait"
# The calls of one `complete`, in order (qas/sim/api_calls.py counts them for each completion).
COMPLETION_CALLS = ("DescribeAutoScalingInstances", "CompleteLifecycleAction")
# The backoff between attempts of a failed lifecycle call (each one already retried by botocore's
# standard mode): full jitter spreads the retries of instances throttled together. The cap is a
# fifth of the termination hook's timeout, so a heartbeat retried at the cap still lands several
# times before the action lapses.
RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 30.0
# The longest heartbeat timeout a hook can have
# (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LifecycleHook.html): a worker not
# told its hook's timeout keeps trying this long, never too short.
MAX_HOOK_TIMEOUT_SECONDS = HOOK_TIMEOUT_RANGE[1]


def retry_delay(failures: int, rng: random.Random) -> float:
    """Seconds before the next attempt after `failures` failures in a row: a uniform draw below
    base * 2**(failures - 1), capped ("full jitter", as botocore's standard retry mode draws)."""
    ceiling = RETRY_BASE_SECONDS * 2.0 ** min(max(failures, 1) - 1, 32)
    return rng.uniform(0.0, min(RETRY_CAP_SECONDS, ceiling))


def is_permanent(error: Exception) -> bool:
    """An answer no retry changes: ValidationError, which Auto Scaling gives when no action waits
    (completed, abandoned or timed out: "No active Lifecycle Action found") or the call is wrong.
    Anything else (throttling, ResourceContention, a 5xx, the network, even a permission that may
    yet arrive) is tried again: a retry is cheap, an abandoned instance is not."""
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == "ValidationError"


class LifecycleActions:
    def __init__(
        self,
        autoscaling: AutoScalingClient,
        group_name: str,
        instance_id: Callable[[], str],
        hook_timeouts: Mapping[str, float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._autoscaling = autoscaling
        self._group_name = group_name
        self._instance_id = instance_id
        self._hook_timeouts = dict(hook_timeouts or {})
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._lapses_at: dict[str, float] = {}  # hook -> when its action has surely timed out

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

    def waiting(self, hook: str) -> None:
        """An action of `hook` waits now (noticed): it times out within the hook's timeout from now.
        Only the first notice counts; a recorded heartbeat moves the time on."""
        with self._lock:
            self._lapses_at.setdefault(hook, self._clock() + self._timeout(hook))

    def complete_with_retries(self, hook: str, waiting_in: str, stop: threading.Event) -> bool:
        """`complete` under the retry rule; True if this worker completed the action."""
        return self._persist(hook, "CompleteLifecycleAction", lambda: self.complete(hook, waiting_in), stop)

    def heartbeat_with_retries(self, hook: str, stop: threading.Event) -> bool:
        """`heartbeat` under the retry rule; True once recorded (the hook's timeout restarts from then)."""

        def attempt() -> bool:
            self.heartbeat(hook)
            with self._lock:
                self._lapses_at[hook] = self._clock() + self._timeout(hook)
            return True

        return self._persist(hook, "RecordLifecycleActionHeartbeat", attempt, stop)

    def _timeout(self, hook: str) -> float:
        return self._hook_timeouts.get(hook, MAX_HOOK_TIMEOUT_SECONDS)

    def _persist(self, hook: str, what: str, attempt: Callable[[], bool], stop: threading.Event) -> bool:
        """`attempt` until it answers (its answer), Auto Scaling refuses it for good, the action has
        surely timed out, or `stop` is set (False)."""
        self.waiting(hook)
        failures = 0
        while True:
            with self._lock:
                lapses_at = self._lapses_at[hook]
            context = {"hook": hook, "call": what}
            if self._clock() >= lapses_at:
                log.warning("lifecycle call given up: the hook has timed out", extra=context)
                return False
            try:
                return attempt()
            except Exception as error:  # sorted by is_permanent: only a sure refusal ends the tries
                context["error"] = str(error)
                if is_permanent(error):
                    log.info("lifecycle call refused: no lifecycle action waits", extra=context)
                    return False
                failures += 1
                delay = retry_delay(failures, self._rng)
                if self._clock() + delay >= lapses_at:
                    log.warning("lifecycle call given up: the hook has timed out", extra=context)
                    return False
                log.warning(
                    "lifecycle call failed: trying again", extra={**context, "retry_in_s": round(delay, 1)}
                )
            if stop.wait(delay):
                return False
