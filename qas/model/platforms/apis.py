"""The API calls of one platform, as the simulator counts them (`qas.sim.api_calls`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformApis:
    """The API calls (service:Action) the worker and the Lambdas make on this platform."""

    protection: str
    fleet_describe: str  # the publisher's capacity read
    policy_describe: str
    policy_put: str
    rollout_check: str | None  # the per-worker check of the fleet's rollout state (ECS only)
