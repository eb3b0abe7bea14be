"""EC2: the fleet is an Auto Scaling group, its policy an EC2 Auto Scaling target-tracking policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from queue_autoscaler.adapters.fleet import AsgFleet, AsgTargetPolicy
from queue_autoscaler.common.platform import Platform

if TYPE_CHECKING:
    from queue_autoscaler.adapters.fleet import Fleet, TargetPolicy


@dataclass(frozen=True)
class Ec2Platform:
    platform: Platform = Platform.EC2
    needs_cluster: bool = False
    # EC2 target tracking takes a custom metric's Period (10 s for high resolution).
    high_resolution: bool = True
    policy_service: str = "autoscaling"

    def fleet(self, cluster: str, name: str, client: Any = None) -> Fleet:
        return AsgFleet(name, client=client)

    def target_policy(self, cluster: str, name: str, policy: str, client: Any = None) -> TargetPolicy:
        return AsgTargetPolicy(name, policy, client=client)

    def peer_fleet(self, spec: str, default_cluster: str) -> Fleet:
        """A peer is an Auto Scaling group's name."""
        return AsgFleet(spec)


EC2 = Ec2Platform()
