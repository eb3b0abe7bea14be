"""EC2 warm pool: a worker on an instance launched into the pool takes no work and lets it be stopped.

An instance launched into a warm pool runs its user data (so this worker starts) and waits in
`Warmed:Pending:Wait` on the launch hook; its target lifecycle state in instance metadata is then
`Warmed:Stopped` (or `Warmed:Hibernated`, `Warmed:Running`). The worker completes the launch action
with CONTINUE at once, without receiving: everything a first receive proves (image, settings, queue
access) is proved again when the instance leaves the pool, and Auto Scaling stops the instance only
once the action is complete. It then waits, still without receiving, until the target state is no
longer a warm one:

* Stopped: the instance stops and the worker with it (SIGTERM from docker stop). When the group takes
  the instance, it starts again, systemd starts a new worker, the target state is `InService` and the
  instance waits in `Pending:Wait`: the worker consumes and completes the action after its first
  receive, as on any launch (worker/launch.py).
* Hibernated: the process is frozen with the instance's memory and resumes where it was, in this
  wait, which then sees `InService` and goes on the same way.
* `Warmed:Terminated`: the pool instance is being removed; the worker exits with nothing taken.

Sources: "Use lifecycle hooks with a warm pool" (the hook pauses in Warmed:Pending:Wait, then in
Pending:Wait) and "Retrieve the target lifecycle state through instance metadata" (the Warmed:*
steady states) in the EC2 Auto Scaling user guide; docs/aws-behaviour.md#asg-warm-pool-lifecycle.
"""

from __future__ import annotations

import logging
import threading
from enum import Enum

from worker.imds import Imds
from worker.lifecycle import LifecycleActions
from worker.termination import LIFECYCLE_PATH

log = logging.getLogger("worker.warm_pool")

WARMED_PREFIX = "Warmed:"
WARMED_PENDING_WAIT = "Warmed:Pending:Wait"
WARMED_TERMINATED = "Warmed:Terminated"
_UNREADABLE = "<unreadable>"  # a sentinel, never a lifecycle state


class WarmPoolExit(Enum):
    CONSUME = "consume"  # not (or no longer) in the warm pool: take work
    STOPPED = "stopped"  # asked to stop while in the pool (the instance stops)
    TERMINATED = "terminated"  # the pool instance is removed


def is_warm(target_state: str | None) -> bool:
    return target_state is not None and target_state.startswith(WARMED_PREFIX)


class WarmPoolGate:
    """Holds the worker back while its instance is headed for the warm pool."""

    def __init__(
        self, imds: Imds, lifecycle: LifecycleActions, launch_hook: str, *, poll_seconds: float
    ) -> None:
        self._imds = imds
        self._lifecycle = lifecycle
        self._hook = launch_hook
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()

    def stop(self) -> None:
        """SIGTERM while waiting: give up the wait (no work was taken)."""
        self._stop.set()

    def wait(self) -> WarmPoolExit:
        """Return at once when the instance is not headed for the pool; else complete the launch action
        (Warmed:Pending:Wait) once and wait until the target state leaves the pool, or `stop()`. An
        unreadable metadata service is asked again: a worker never takes work on a guess."""
        completed = False
        while True:
            target = self._target()
            if target is not _UNREADABLE:
                if not is_warm(target):
                    if completed:
                        log.info("left the warm pool: taking work", extra={"target_lifecycle_state": target})
                    return WarmPoolExit.CONSUME
                if target == WARMED_TERMINATED:
                    log.info("the warm pool removes this instance: taking no work")
                    return WarmPoolExit.TERMINATED
                if not completed:
                    log.info(
                        "launched into the warm pool: completing the launch action without taking work",
                        extra={"target_lifecycle_state": target},
                    )
                    self._lifecycle.complete_with_retries(self._hook, WARMED_PENDING_WAIT, self._stop)
                    completed = True
            if self._stop.wait(self._poll_seconds):
                return WarmPoolExit.STOPPED

    def _target(self) -> str | None:
        """The target lifecycle state; None when the item does not exist (not in a group)."""
        try:
            return self._imds.get(LIFECYCLE_PATH)
        except Exception as error:  # the metadata service is local: ask again at the next poll
            log.warning("cannot read the target lifecycle state", extra={"error": str(error)})
            return _UNREADABLE
