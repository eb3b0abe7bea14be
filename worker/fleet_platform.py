"""Where the worker runs: the fleet platforms of `queue_autoscaler.common.platform`, plus LOCAL.

The worker image holds only `worker/` (worker/Dockerfile), so this is a value-level copy of the
Lambdas' `Platform`, not an import of it: tests/worker/test_platform_seam.py holds every value equal.
LOCAL is the worker's own (a process outside any fleet: no platform calls). What the worker does on
each platform is `worker.platform_parts`; the settings' per-platform rules are `TRAITS` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    LOCAL = "LOCAL"
    EC2 = "EC2"
    ECS = "ECS"


@dataclass(frozen=True)
class Traits:
    """What the settings and the start-up need to know of a platform before any client exists."""

    needs_ecs_agent: bool = False  # ECS_AGENT_URI is required (task scale-in protection)
    watches_rollouts: bool = False  # a new deployment retires the worker (worker/rollout_watch.py)


TRAITS: dict[Platform, Traits] = {
    Platform.LOCAL: Traits(),
    Platform.EC2: Traits(),
    Platform.ECS: Traits(needs_ecs_agent=True, watches_rollouts=True),
}
