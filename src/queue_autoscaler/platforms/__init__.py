"""The platform seam of the Lambdas: one object per fleet platform, found by `Platform`.

Every per-platform choice the handlers make (which adapter reads the capacity, which one reads and
writes the target-tracking policy, how a peer fleet is named, which settings the platform needs) is
a member of `FleetPlatform`, implemented once per platform in this package (`ec2`, `ecs`). Nothing
else branches on a platform value (tests/architecture/test_platform_seam.py checks it). A new platform is a
new module here with one entry in `PLATFORMS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from queue_autoscaler.common.platform import Platform
from queue_autoscaler.platforms.ec2 import EC2
from queue_autoscaler.platforms.ecs import ECS

if TYPE_CHECKING:
    from queue_autoscaler.adapters.fleet import Fleet, TargetPolicy
    from queue_autoscaler.platforms.settings import FleetSettings


class FleetPlatform(Protocol):
    """What the Lambdas (and the tools that drive the same adapters) need of one platform."""

    @property
    def platform(self) -> Platform: ...

    @property
    def needs_cluster(self) -> bool:
        """The fleet lives in a cluster: ECS_CLUSTER is required."""

    @property
    def high_resolution(self) -> bool:
        """Its target tracking accepts a custom metric's Period below 60 s (HIGH_RESOLUTION)."""

    @property
    def policy_service(self) -> str:
        """The boto3 service name of the API holding its scaling policies."""

    def fleet(self, cluster: str, name: str, client: object | None = None) -> Fleet:
        """The fleet's capacity reader (adapters.fleet); client: a client of the API it reads."""

    def target_policy(
        self, cluster: str, name: str, policy: str, client: object | None = None
    ) -> TargetPolicy:
        """The fleet's target-tracking policy (adapters.fleet); client: a `policy_service` client."""

    def peer_fleet(self, spec: str, default_cluster: str) -> Fleet:
        """A peer named in PEER_FLEETS, in this platform's spelling."""


PLATFORMS: Mapping[Platform, FleetPlatform] = {p.platform: p for p in (EC2, ECS)}


def platform_of(platform: Platform) -> FleetPlatform:
    return PLATFORMS[platform]


def make_target_policy(settings: FleetSettings, policy_name: str) -> TargetPolicy:
    """The fleet's target-tracking policy: one factory for the tuner and the publisher, so both read
    the target in force through the same adapter. Make one per invocation: the adapter reads the
    policy once and reuses that read."""
    platform = platform_of(settings.platform)
    return platform.target_policy(settings.ecs_cluster, settings.fleet_name, policy_name)
