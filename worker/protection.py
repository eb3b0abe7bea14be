"""Scale-in protection while the worker is busy: EC2 instance protection or ECS task protection.

The HTTP calls (IMDSv2 in worker/imds.py, and the ECS agent) use urllib: they are tiny, local to
the host, and a third-party HTTP library would only grow the image. Failures are logged and never stop
processing: protection is a guard against losing work to scale-in, the work itself comes first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Protocol

from worker.imds import Imds

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

log = logging.getLogger(__name__)

_HTTP_TIMEOUT_SECONDS = 3


class Protector(Protocol):
    def set(self, enabled: bool) -> None:
        """Switch protection on or off; raises on failure."""

    def refresh_after(self) -> float | None:
        """Seconds after which an enabled protection must be renewed (None: it never expires)."""


class NoProtection:
    """WORKER_PLATFORM=LOCAL: no calls at all."""

    def set(self, enabled: bool) -> None:
        return None

    def refresh_after(self) -> float | None:
        return None


class Ec2InstanceProtection:
    """Instance id from IMDSv2, then autoscaling:SetInstanceProtection on the fleet's ASG (it holds off
    scale-in only: docs/aws-behaviour.md#asg-scale-in-protection)."""

    def __init__(self, autoscaling: AutoScalingClient, group_name: str, imds: Imds) -> None:
        self._autoscaling = autoscaling
        self._group_name = group_name
        self._imds = imds
        self._instance_id: str | None = None

    def instance_id(self) -> str:
        if self._instance_id is None:
            answer = self._imds.get("instance-id")
            if not answer:
                raise RuntimeError("instance metadata has no instance-id")
            self._instance_id = answer.strip()
        return self._instance_id

    def set(self, enabled: bool) -> None:
        self._autoscaling.set_instance_protection(
            InstanceIds=[self.instance_id()],
            AutoScalingGroupName=self._group_name,
            ProtectedFromScaleIn=enabled,
        )

    def refresh_after(self) -> float | None:
        return None


class EcsTaskProtection:
    """PUT $ECS_AGENT_URI/task-protection/v1/state; the protection expires, so it is renewed
    (docs/aws-behaviour.md#ecs-task-protection)."""

    def __init__(self, agent_uri: str, expires_minutes: int) -> None:
        self._url = f"{agent_uri}/task-protection/v1/state"
        self._expires_minutes = expires_minutes

    def set(self, enabled: bool) -> None:
        body: dict[str, object] = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = self._expires_minutes
        request = urllib.request.Request(  # noqa: S310 - http(s) URL validated in settings
            self._url,
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
        # The agent answers 200 with a "failure" object when ECS refused the change.
        if isinstance(answer, dict) and answer.get("failure"):
            raise RuntimeError(f"ECS task protection refused: {answer['failure']}")

    def refresh_after(self) -> float | None:
        return self._expires_minutes * 60 / 2


class ProtectionState:
    """Calls the protector only on idle->busy and busy->idle, plus renewals before expiry.

    A retired worker (its version is no longer in force, worker/rollout_watch.py) neither takes
    nor renews protection: what it has lapses at its expiry, or goes at the next idle().
    """

    def __init__(self, protector: Protector) -> None:
        self._protector = protector
        self._enabled = False
        self._retired = False
        self._set_at = 0.0
        # The receiver switches, the housekeeper renews, shutdown clears: one call at a time.
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._enabled

    def retire(self) -> None:
        with self._lock:
            self._retired = True

    def reinstate(self) -> None:
        with self._lock:
            self._retired = False

    def busy(self) -> None:
        with self._lock:
            if self._retired:
                return
            refresh = self._protector.refresh_after()
            due = refresh is not None and time.monotonic() - self._set_at >= refresh
            if not self._enabled or due:
                self._switch(True)

    def idle(self) -> None:
        with self._lock:
            if self._enabled:
                self._switch(False)

    def _switch(self, enabled: bool) -> None:
        try:
            self._protector.set(enabled)
        except Exception as error:  # any failure: log, keep working, retry next transition
            log.warning("scale-in protection call failed", extra={"enabled": enabled, "error": str(error)})
            return
        self._enabled = enabled
        self._set_at = time.monotonic()
        log.info("scale-in protection " + ("on" if enabled else "off"), extra={"protected": enabled})
