"""An Auto Scaling group's launch template version, its instances, and instance refreshes.

AWS calls: autoscaling:DescribeAutoScalingGroups, autoscaling:StartInstanceRefresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from queue_autoscaler.adapters import clients
from queue_autoscaler.adapters.errors import ResourceNotFoundError
from queue_autoscaler.scaling.rollout import FleetInstance, RefreshPreferences

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient


@dataclass(frozen=True)
class GroupVersion:
    version: str
    instances: tuple[FleetInstance, ...]


class AsgRollout:
    def __init__(self, group: str, client: AutoScalingClient | None = None) -> None:
        self.group = group
        self._client = client

    @property
    def client(self) -> AutoScalingClient:
        return self._client or clients.autoscaling()

    def state(self) -> GroupVersion:
        groups = self.client.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group])[
            "AutoScalingGroups"
        ]
        if not groups:
            raise ResourceNotFoundError(f"Auto Scaling group {self.group!r} does not exist")
        group: Any = groups[0]
        spec = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {}).get(
            "LaunchTemplateSpecification"
        ) or group.get("LaunchTemplate", {})
        instances = tuple(
            FleetInstance(
                instance_id=instance["InstanceId"],
                lifecycle_state=instance["LifecycleState"],
                launch_template_version=instance.get("LaunchTemplate", {}).get("Version"),
                protected=bool(instance.get("ProtectedFromScaleIn")),
            )
            for instance in group.get("Instances", [])
        )
        return GroupVersion(version=str(spec.get("Version", "")), instances=instances)

    def start_refresh(self, preferences: RefreshPreferences) -> str | None:
        """Start an instance refresh; None when one is already running (it is not interrupted)."""
        try:
            wanted: Any = {
                "MinHealthyPercentage": preferences.min_healthy_percentage,
                "MaxHealthyPercentage": preferences.max_healthy_percentage,
                "InstanceWarmup": preferences.instance_warmup_s,
                "SkipMatching": preferences.skip_matching,
                "ScaleInProtectedInstances": preferences.scale_in_protected_instances,
                "StandbyInstances": preferences.standby_instances,
            }
            response = self.client.start_instance_refresh(
                AutoScalingGroupName=self.group, Strategy="Rolling", Preferences=wanted
            )
        except ClientError as err:
            # One refresh at a time: docs/aws-behaviour.md#ir-protected-instances
            if err.response.get("Error", {}).get("Code") == "InstanceRefreshInProgress":
                return None
            raise
        return str(response["InstanceRefreshId"])
