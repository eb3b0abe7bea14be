"""ECS rollouts: a worker whose task definition is no longer the one in force retires.

Why: an ECS deployment never stops a task that has scale-in protection, and a busy worker renews
its protection for as long as it holds work. Under a steady backlog an old task is never idle, so
the deployment (and the `sam deploy` waiting on it) never completes, with up to twice the tasks
running meanwhile.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html

How the worker learns it is outdated:
* its own task definition (family and revision) once, from the task metadata endpoint v4
  (`${ECS_CONTAINER_METADATA_URI_V4}/task`: local to the task, no API call). The service name is
  FLEET_NAME (the template names the service so): the Fargate page of that endpoint does not list
  ServiceName.
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate-response.html
* the version in force from ecs:DescribeServices on its own service: the PRIMARY deployment ("the
  most recent deployment of a service") and its running count.
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html
  ECS throttles its API per account and Region with token buckets
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html), so the
  whole fleet spends at most FLEET_CHECKS_PER_SECOND on it: each worker checks every
  max(WORKER_ROLLOUT_CHECK_SECONDS, running tasks / FLEET_CHECKS_PER_SECOND), jittered.

What "in force" means (`standing`):
* my task definition is the PRIMARY deployment's: current;
* the PRIMARY deployment runs another one and has a running task: outdated, retire;
* the PRIMARY deployment runs another one but no task of it runs yet, or it FAILED: pending, keep
  working. A new version that cannot start must not stop the old one; with the circuit breaker's
  rollback the service goes back to the last completed deployment, which makes this task
  definition PRIMARY (current) again.
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentCircuitBreaker.html
Retiring is reversible: a later check that finds this task definition PRIMARY again reinstates.

Retiring (Consumer.retire): stop receiving (what a long poll in flight brings is handed back),
let running jobs finish, stop renewing scale-in protection (it lapses at most
WORKER_PROTECTION_EXPIRES_MINUTES after its last renewal, the bound on a job that outlasts the
rollout) and switch it off as soon as nothing is held. The deployment then stops the task with
SIGTERM, and the usual drain releases anything still running.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from worker.fleet_platform import TRAITS
from worker.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

log = logging.getLogger("worker.rollout")

# The fleet's budget of DescribeServices calls. The ECS guide's worked example of a read bucket
# refills 20 tokens a second; 2 a second leaves that account-wide budget to everything else.
FLEET_CHECKS_PER_SECOND = 2.0
# The first check comes at a random point within this many intervals: a fleet that starts at
# once (a scale-out from 0) does not check at once.
FIRST_CHECK_SPREAD = 5.0
# After failed checks the interval doubles, up to this factor.
MAX_BACKOFF_FACTOR = 8.0
_HTTP_TIMEOUT_SECONDS = 3


class Standing(StrEnum):
    CURRENT = "current"  # this task definition is the one in force
    PENDING = "pending"  # a newer one is deployed but not (yet) running: keep working
    OUTDATED = "outdated"  # a newer one runs: retire


@dataclass(frozen=True)
class Deployment:
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str  # ARN
    running_count: int
    rollout_state: str | None  # COMPLETED | IN_PROGRESS | FAILED


@dataclass(frozen=True)
class ServiceState:
    deployments: tuple[Deployment, ...]
    running_count: int  # every task of the service, old and new


@dataclass(frozen=True)
class Verdict:
    standing: Standing
    reason: str


def task_definition_key(task_definition: str) -> str:
    """`family:revision` of a task definition ARN (or of `family:revision` itself)."""
    return task_definition.rsplit("/", 1)[-1]


def standing(mine: str, service: ServiceState) -> Verdict:
    """Whether the task definition `mine` (family:revision) is in force in the service."""
    primary = next((d for d in service.deployments if d.status == "PRIMARY"), None)
    if primary is None:
        return Verdict(Standing.CURRENT, "the service reports no PRIMARY deployment")
    if task_definition_key(primary.task_definition) == mine:
        return Verdict(Standing.CURRENT, f"{mine} is the PRIMARY deployment's task definition")
    if primary.rollout_state == "FAILED":
        return Verdict(
            Standing.PENDING, f"the deployment of {primary.task_definition} failed; {mine} keeps working"
        )
    if primary.running_count < 1:
        return Verdict(
            Standing.PENDING, f"no task of {primary.task_definition} runs yet; {mine} keeps working"
        )
    return Verdict(
        Standing.OUTDATED,
        f"{primary.task_definition} is deployed and {primary.running_count} of its tasks are running;"
        f" {mine} is no longer in force",
    )


def check_interval(base_seconds: float, running_tasks: int) -> float:
    """Seconds between one worker's checks so that the fleet stays within its call budget."""
    return max(base_seconds, running_tasks / FLEET_CHECKS_PER_SECOND)


# The timing rules below are the worker's and the simulator's (qas/sim/api_calls.py counts the
# fleet's DescribeServices calls with them).
def first_check_delay(base_seconds: float, rng: random.Random) -> float:
    """Seconds from the worker's start to its first check: a random point of the first
    FIRST_CHECK_SPREAD intervals."""
    return rng.uniform(0.0, FIRST_CHECK_SPREAD * base_seconds)


def next_check_delay(interval: float, failures: int, rng: random.Random) -> float:
    """Seconds to the next check: the interval, jittered by +-50%, doubled after each failure in a
    row up to MAX_BACKOFF_FACTOR."""
    backoff = min(MAX_BACKOFF_FACTOR, 2.0**failures)
    return interval * backoff * rng.uniform(0.5, 1.5)


class Retiree(Protocol):
    def retire(self, reason: str) -> None: ...

    def reinstate(self, reason: str) -> None: ...


class ServiceVersion(Protocol):
    def mine(self) -> str:
        """This task's task definition, family:revision."""

    def service(self) -> ServiceState: ...


class EcsServiceVersion:
    """The task's own task definition from the metadata endpoint; the service's from DescribeServices."""

    def __init__(self, metadata_uri: str, ecs: ECSClient, service_name: str) -> None:
        self._metadata_uri = metadata_uri
        self._ecs = ecs
        self._service_name = service_name
        self._task: dict[str, Any] | None = None

    def _metadata(self) -> dict[str, Any]:
        if self._task is None:
            with urllib.request.urlopen(  # noqa: S310 - http(s) URL validated in settings
                f"{self._metadata_uri}/task", timeout=_HTTP_TIMEOUT_SECONDS
            ) as response:
                task = json.loads(response.read())
            if not isinstance(task, dict) or not task.get("Family") or not task.get("Revision"):
                raise RuntimeError("task metadata has no Family and Revision")
            self._task = task
        return self._task

    def mine(self) -> str:
        task = self._metadata()
        return f"{task['Family']}:{task['Revision']}"

    def service(self) -> ServiceState:
        cluster = str(self._metadata().get("Cluster", ""))
        answer = self._ecs.describe_services(cluster=cluster, services=[self._service_name])
        if not answer.get("services"):
            raise RuntimeError(f"service {self._service_name!r} not found in cluster {cluster!r}")
        described: Any = answer["services"][0]
        return ServiceState(
            deployments=tuple(
                Deployment(
                    status=str(d.get("status", "")),
                    task_definition=str(d.get("taskDefinition", "")),
                    running_count=int(d.get("runningCount", 0)),
                    rollout_state=d.get("rolloutState"),
                )
                for d in described.get("deployments", [])
            ),
            running_count=int(described.get("runningCount", 0)),
        )


class RolloutWatch:
    """Checks in a daemon thread, jittered; retires or reinstates the worker when its standing changes."""

    def __init__(
        self,
        version: ServiceVersion,
        retiree: Retiree,
        *,
        base_seconds: float,
        rng: random.Random | None = None,
    ) -> None:
        self._version = version
        self._retiree = retiree
        self._base_seconds = base_seconds
        self._rng = rng or random.Random()
        self._interval = base_seconds
        self._failures = 0
        self._retired = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> Verdict | None:
        """One check; applies its verdict. None when the check failed (logged; the worker carries on)."""
        try:
            mine = self._version.mine()
            service = self._version.service()
        except Exception as error:  # throttled, no permission, metadata down: never retire on doubt
            self._failures += 1
            log.warning(
                "rollout check failed", extra={"error": str(error), "consecutive_failures": self._failures}
            )
            return None
        self._failures = 0
        self._interval = check_interval(self._base_seconds, service.running_count)
        verdict = standing(mine, service)
        log.debug("rollout check", extra={"standing": str(verdict.standing), "reason": verdict.reason})
        if verdict.standing is Standing.OUTDATED and not self._retired:
            self._retired = True
            self._retiree.retire(verdict.reason)
        elif verdict.standing is Standing.CURRENT and self._retired:
            self._retired = False
            self._retiree.reinstate(verdict.reason)
        return verdict

    def next_delay(self) -> float:
        """Seconds to the next check (`next_check_delay`)."""
        return next_check_delay(self._interval, self._failures, self._rng)

    def start(self) -> None:
        def loop() -> None:
            if self._done.wait(first_check_delay(self._base_seconds, self._rng)):
                return
            while True:
                self.check()
                if self._done.wait(self.next_delay()):
                    return

        self._thread = threading.Thread(target=loop, name="rollout-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def watch_rollouts(settings: Settings, ecs: ECSClient, retiree: Retiree) -> RolloutWatch | None:
    """The watch for an ECS worker (not started), or None: another platform, or turned off."""
    if not TRAITS[settings.platform].watches_rollouts or settings.rollout_check_seconds == 0:
        return None
    if not settings.ecs_metadata_uri:
        # ECS sets it in every container (Fargate platform 1.4.0+); without it a deployment can
        # wait on this busy task for as long as the backlog lasts.
        log.warning("ECS_CONTAINER_METADATA_URI_V4 is not set: this task will not notice a new deployment")
        return None
    version = EcsServiceVersion(settings.ecs_metadata_uri, ecs, settings.fleet_name)
    return RolloutWatch(version, retiree, base_seconds=settings.rollout_check_seconds)


def fleet_checks_per_second(workers: int, base_seconds: float) -> float:
    """The mean DescribeServices rate of a fleet of `workers` tasks (the jitter's mean factor is 1)."""
    return workers / check_interval(base_seconds, workers)
