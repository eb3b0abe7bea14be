"""The fleet's target-tracking policy, from the settings: one factory for the tuner and the publisher,
so both read the target in force through the same adapter (adapters.fleet)."""

from __future__ import annotations

from queue_autoscaler.adapters.fleet import TargetPolicy
from queue_autoscaler.common.settings import FleetSettings
from queue_autoscaler.platforms import platform_of


def make_target_policy(settings: FleetSettings, policy_name: str) -> TargetPolicy:
    """Make one per invocation: the adapter reads the policy once and reuses that read."""
    return platform_of(settings.platform).target_policy(
        settings.ecs_cluster, settings.fleet_name, policy_name
    )
