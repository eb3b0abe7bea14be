"""Rolling a new launch template version through a busy EC2 fleet without losing its work.

A new WorkerImageTag changes the launch template's user data; the group launches new instances from
the new version, but running ones keep the old image for as long as the fleet stays busy. An
instance refresh replaces them, with these preferences
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html):

- ScaleInProtectedInstances=Refresh: a worker protects its instance from scale-in while it holds
  messages, so under a steady backlog it is never unprotected. With Wait the refresh would wait an
  hour on each such instance and then fail; with Ignore it would leave them on the old version.
  Refresh replaces them, and the termination goes through the group's `drain-before-terminate`
  lifecycle hook: the worker stops receiving, lets running jobs finish within its shutdown grace,
  hands back (visibility 0) what still runs, and completes the action (worker/termination.py). A
  job longer than that drain is started again from the beginning on another instance.
- MinHealthyPercentage=100 / MaxHealthyPercentage=200: launch the replacement before terminating,
  so capacity never drops during a rollout.
- SkipMatching: instances already on the group's version are left alone.

Which events start one (`rollout_reason`): the stack's own UPDATE_COMPLETE, never a resource's
(CloudFormation also updates the group back, with a resource UPDATE_COMPLETE, when it rolls an
update back); and a refresh that succeeded, because a refresh without a desired configuration only
replaces instances that differ from what the group had when it started
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh-skip-matching.html):
a version that came during it, whose refresh was refused as InstanceRefreshInProgress, needs the
next one. A failed or cancelled refresh starts nothing: someone must look first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Lifecycle states an instance refresh would still replace.
_REPLACEABLE = frozenset({"Pending", "Pending:Wait", "Pending:Proceed", "InService", "Standby"})

# EventBridge detail types (the template's rules match these).
STACK_STATUS_CHANGE = "CloudFormation Stack Status Change"
REFRESH_SUCCEEDED = "EC2 Auto Scaling Instance Refresh Succeeded"
_STACK_UPDATED = "UPDATE_COMPLETE"


@dataclass(frozen=True)
class FleetInstance:
    instance_id: str
    lifecycle_state: str
    launch_template_version: str | None  # None: launched from something else than the template
    protected: bool = False  # from scale-in: its worker holds messages


@dataclass(frozen=True)
class RefreshPreferences:
    min_healthy_percentage: int = 100
    max_healthy_percentage: int = 200
    instance_warmup_s: int = 60  # the group's DefaultInstanceWarmup
    scale_in_protected_instances: str = "Refresh"
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


def rollout_reason(event: Mapping[str, Any]) -> str | None:
    """Why this event calls for a refresh of the outdated instances; None when it must start nothing."""
    detail_type = event.get("detail-type")
    if detail_type is None:
        return "invoked directly"
    if detail_type == REFRESH_SUCCEEDED:
        return "the previous instance refresh succeeded"
    if detail_type == STACK_STATUS_CHANGE:
        status = event.get("detail", {}).get("status-details", {}).get("status")
        return "the stack update completed" if status == _STACK_UPDATED else None
    return None


def skipped_because(event: Mapping[str, Any]) -> str:
    """What an event that starts nothing was, for the log."""
    status = event.get("detail", {}).get("status-details", {}).get("status")
    if event.get("detail-type") == STACK_STATUS_CHANGE:
        return f"{status} of the stack is not a completed update"
    return f"{event.get('detail-type')} starts no rollout"
