"""ECS: the fleet is a service's desired count, its policy an Application Auto Scaling one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from queue_autoscaler.adapters.fleet import EcsServiceFleet, EcsTargetPolicy
from queue_autoscaler.common.platform import Platform

if TYPE_CHECKING:
    from queue_autoscaler.adapters.fleet import Fleet, TargetPolicy


@dataclass(frozen=True)
class EcsPlatform:
    platform: Platform = Platform.ECS
    needs_cluster: bool = True
    # Application Auto Scaling has no Period for custom metrics: 10 s samples would never be used.
    high_resolution: bool = False
    policy_service: str = "application-autoscaling"

    def fleet(self, cluster: str, name: str, client: Any = None) -> Fleet:
        return EcsServiceFleet(cluster, name, client=client)

    def target_policy(self, cluster: str, name: str, policy: str, client: Any = None) -> TargetPolicy:
        return EcsTargetPolicy(cluster, name, policy, client=client)

    def peer_fleet(self, spec: str, default_cluster: str) -> Fleet:
        """A peer is "cluster/service", or a service of this fleet's cluster."""
        cluster, _, service = spec.rpartition("/")
        return EcsServiceFleet(cluster or default_cluster, service)


ECS = EcsPlatform()
