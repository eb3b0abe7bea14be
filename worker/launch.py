"""EC2: tell the launch lifecycle hook that this instance can take work.

The template's hook (`autoscaling:EC2_INSTANCE_LAUNCHING`, `DefaultResult: ABANDON`) keeps a new
instance in `Pending:Wait` while its user data installs Docker and pulls the image, so it is not yet
`InService` and nothing counts it as consuming (BacklogPerInstance divides by InService instances).
The worker completes the action with CONTINUE after its first ReceiveMessage that succeeds: by then
the image runs, the settings are valid, the start-up checks passed and the queue answered this
instance's role. A worker that never gets there leaves the action to the hook's timeout: ABANDON
terminates the instance (https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html),
so a broken instance never enters service.

The first receive is noticed through botocore's `after-call` event of the receiving client, so the
consumer needs no knowledge of lifecycle hooks. The completion runs in its own thread: receiving
and processing go on meanwhile.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from worker.lifecycle import PENDING_WAIT, LifecycleActions

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("worker.launch")

_RECEIVE_EVENT = "after-call.sqs.ReceiveMessage"


class LaunchReadiness:
    def __init__(self, lifecycle: LifecycleActions, hook_name: str) -> None:
        self._lifecycle = lifecycle
        self._hook_name = hook_name
        self._lock = threading.Lock()
        self._signalled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, sqs: SQSClient) -> None:
        """Complete the launch action once `sqs` has received successfully (any number of messages)."""
        sqs.meta.events.register(_RECEIVE_EVENT, self._after_receive)

    def stop(self) -> None:
        """No more attempts (shutdown); waits briefly for one in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _after_receive(self, http_response: Any = None, **_: Any) -> None:
        if http_response is None or http_response.status_code >= 300:
            return
        with self._lock:
            if self._signalled:
                return
            self._signalled = True
        log.info("first receive succeeded: completing the launch lifecycle action")
        self._thread = threading.Thread(target=self.signal_ready, name="launch-ready", daemon=True)
        self._thread.start()

    def signal_ready(self) -> None:
        self._lifecycle.complete_with_retries(self._hook_name, PENDING_WAIT, self._stop)
