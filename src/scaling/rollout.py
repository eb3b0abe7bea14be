"""Rolling a new launch template version through a busy EC2 fleet without killing its workers.

A new WorkerImageTag changes the launch template's user data; the group launches new instances from
the new version, but running ones keep the old image for as long as the fleet stays busy. An
instance refresh replaces them, and these preferences keep the work safe:

- ScaleInProtectedInstances=Wait: a worker protects its instance while it holds messages, so the
  refresh replaces it only once it is idle (Auto Scaling waits up to an hour, then the refresh fails
  and `qas doctor stack` reports it; a later refresh with SkipMatching picks up only the stragglers).
- MinHealthyPercentage=100 / MaxHealthyPercentage=200: launch the replacement before terminating,
  so capacity never drops during a rollout.
- SkipMatching: instances already on the group's version are left alone.
Terminations still go through the group's termination lifecycle hooks, if any, so a worker can drain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Lifecycle states an instance refresh would still replace.
_REPLACEABLE = frozenset({"Pending", "Pending:Wait", "Pending:Proceed", "InService", "Standby"})


@dataclass(frozen=True)
class FleetInstance:
    instance_id: str
    lifecycle_state: str
    launch_template_version: str | None  # None: launched from something else than the template


@dataclass(frozen=True)
class RefreshPreferences:
    min_healthy_percentage: int = 100
    max_healthy_percentage: int = 200
    instance_warmup_s: int = 60  # the group's DefaultInstanceWarmup
    scale_in_protected_instances: str = "Wait"
    standby_instances: str = "Ignore"
    skip_matching: bool = True


PREFERENCES = RefreshPreferences()


def outdated(group_version: str, instances: Iterable[FleetInstance]) -> tuple[str, ...]:
    """Ids of the running instances that are not on the group's launch template version."""
    return tuple(
        instance.instance_id
        for instance in instances
        if instance.lifecycle_state in _REPLACEABLE and instance.launch_template_version != group_version
    )
