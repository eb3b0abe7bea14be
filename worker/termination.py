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

A notice starts the same drain as SIGTERM (Consumer.request_stop). On a lifecycle notice the worker
records a heartbeat at once and then every HEARTBEAT_EVERY_SECONDS until the drain is over: each one
restarts the hook's timeout ("extends the timeout by the length of time defined" for the hook,
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RecordLifecycleActionHeartbeat.html),
so a live worker's drain never depends on the timeout, however long its API calls take; only the
hook's overall limit (100 x the timeout, at most 48 h) bounds it. After the drain it completes the
action with CONTINUE, so the instance goes as soon as the work is safe, and exits with
TERMINATING_EXIT_CODE, which the systemd unit does not restart. A heartbeat or completion that fails
follows the lifecycle calls' one retry rule (worker/lifecycle.py): backoff until it goes through or
the hook's timeout (WORKER_LIFECYCLE_HOOK_TIMEOUT_SECONDS) has surely passed since the notice or the
last heartbeat recorded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from worker.imds import Imds
from worker.lifecycle import TERMINATING_WAIT, LifecycleActions

log = logging.getLogger("worker.termination")

SPOT_PATH = "spot/instance-action"  # docs/aws-behaviour.md#ec2-spot-notice
# The target state only, never the current one: docs/aws-behaviour.md#asg-target-lifecycle-imds
LIFECYCLE_PATH = "autoscaling/target-lifecycle-state"
TERMINATED = "Terminated"
# A fifth of the template's 150 s hook timeout: three heartbeats in a row may fail before it ends
# (tests/template checks the timeout against this and the worst duration of one call).
HEARTBEAT_EVERY_SECONDS = 30.0
# The worker drained because its instance is going away: systemd must not start it again there
# (the template's unit has RestartPreventExitStatus set to this).
TERMINATING_EXIT_CODE = 10


class TerminationWatcher:
    def __init__(
        self,
        imds: Imds,
        lifecycle: LifecycleActions,
        hook_name: str,
        *,
        poll_seconds: float,
        heartbeat_seconds: float = HEARTBEAT_EVERY_SECONDS,
    ) -> None:
        self._imds = imds
        self._lifecycle = lifecycle
        self._hook_name = hook_name
        self._poll_seconds = poll_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._drained = threading.Event()  # ends the heartbeats
        self._heartbeats: threading.Thread | None = None
        self.lifecycle_noticed = False
        self.terminating = False  # a notice was seen: the instance is going away

    def check(self) -> str | None:
        """Read both notices once; the reason to drain, or None. Metadata errors are logged, not fatal."""
        try:
            spot = self._imds.get(SPOT_PATH)
            if spot is not None:
                self.terminating = True
                return f"spot interruption notice: {_describe_spot(spot)}"
            if self._hook_name and self._imds.get(LIFECYCLE_PATH) == TERMINATED:
                self.terminating = True
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
        """Stop polling (the heartbeats go on until `complete_if_terminating`)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def complete_if_terminating(self) -> None:
        """After the drain: stop the heartbeats, then CompleteLifecycleAction if the group still waits
        for this instance in Terminating:Wait (a restarted worker finds it completed already)."""
        self._drained.set()
        if self._heartbeats is not None:
            self._heartbeats.join(timeout=5)
        if not self._hook_name:
            return
        try:
            if not self.lifecycle_noticed and self._imds.get(LIFECYCLE_PATH) != TERMINATED:
                return
            self.terminating = True
            self._lifecycle.complete_with_retries(self._hook_name, TERMINATING_WAIT, threading.Event())
        except Exception as error:  # the hook's timeout (DefaultResult CONTINUE) lets it go anyway
            log.warning("cannot complete the lifecycle action", extra={"error": str(error)})

    def _on_lifecycle_notice(self) -> None:
        if self.lifecycle_noticed:
            return
        self.lifecycle_noticed = True
        self._heartbeats = threading.Thread(
            target=self._heartbeat_loop, name="lifecycle-heartbeat", daemon=True
        )
        self._heartbeats.start()

    def _heartbeat_loop(self) -> None:
        # Ends when the drain is over, or when no action waits any more (completed by a predecessor
        # on this instance, or timed out while every retry was throttled): nothing left to hold.
        while self._lifecycle.heartbeat_with_retries(self._hook_name, self._drained):
            if self._drained.wait(self._heartbeat_seconds):
                return


def _describe_spot(raw: str) -> str:
    try:
        notice = json.loads(raw)
    except ValueError:
        return raw.strip()
    if isinstance(notice, dict):
        return f"{notice.get('action', '?')} at {notice.get('time', '?')}"
    return raw.strip()
