"""The worker fleet: its capacity and its target-tracking policy, on EC2 Auto Scaling or ECS.

AWS calls: autoscaling:DescribeAutoScalingGroups, autoscaling:DescribePolicies,
autoscaling:PutScalingPolicy (EC2); ecs:DescribeServices, application-autoscaling:
DescribeScalingPolicies, application-autoscaling:PutScalingPolicy (ECS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from botocore.exceptions import ClientError

from queue_autoscaler.adapters import clients
from queue_autoscaler.adapters.errors import ResourceNotFoundError
from queue_autoscaler.adapters.tracking_payload import ec2_put_arguments, ecs_configuration, require_period
from queue_autoscaler.scaling.backlog import FleetCapacity

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ecs import ECSClient

TARGET_TRACKING: Final[Literal["TargetTrackingScaling"]] = "TargetTrackingScaling"


class Fleet(Protocol):
    def capacity(self) -> FleetCapacity: ...


class TargetPolicy(Protocol):
    """A target-tracking policy. Make one per invocation: it reads the policy once, and set_target
    sends that same configuration back with only TargetValue changed."""

    name: str

    def current_target(self) -> float: ...

    def set_target(self, value: float) -> None: ...


# --- EC2 Auto Scaling ----------------------------------------------------------------------------


class AsgFleet:
    """An Auto Scaling group: running = InService instances, desired = DesiredCapacity."""

    def __init__(self, name: str, client: AutoScalingClient | None = None) -> None:
        self.name = name
        self._client = client

    def capacity(self) -> FleetCapacity:
        client = self._client or clients.autoscaling()
        groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])["AutoScalingGroups"]
        if not groups:
            raise ResourceNotFoundError(f"Auto Scaling group {self.name!r} does not exist")
        group = groups[0]
        # Pending, warming-up, terminating or standby instances do not consume the queue.
        # docs/aws-behaviour.md#asg-in-service
        running = sum(1 for i in group.get("Instances", []) if i["LifecycleState"] == "InService")
        return FleetCapacity(running=running, desired=group["DesiredCapacity"])


class AsgTargetPolicy:
    """A target-tracking policy of an Auto Scaling group."""

    def __init__(self, group: str, name: str, client: AutoScalingClient | None = None) -> None:
        self.group = group
        self.name = name
        self._client = client
        self._described: Any = None  # one invocation's read, reused by set_target

    @property
    def client(self) -> AutoScalingClient:
        return self._client or clients.autoscaling()

    def _describe(self) -> Any:
        if self._described is not None:
            return self._described
        policies = self.client.describe_policies(AutoScalingGroupName=self.group, PolicyNames=[self.name])[
            "ScalingPolicies"
        ]
        for policy in policies:
            if policy["PolicyName"] == self.name and policy.get("PolicyType") == TARGET_TRACKING:
                self._described = policy
                return policy
        raise ResourceNotFoundError(
            f"target-tracking policy {self.name!r} of Auto Scaling group {self.group!r} does not exist"
        )

    def current_target(self) -> float:
        return float(self._describe()["TargetTrackingConfiguration"]["TargetValue"])

    def set_target(self, value: float) -> None:
        """Send the described configuration back with only TargetValue changed.

        PutScalingPolicy replaces the policy: a missing PolicyType would turn it into simple
        scaling, a missing metric spec, Period or DisableScaleIn would be lost
        (adapters.tracking_payload names the fields kept).
        """
        # docs/aws-behaviour.md#tt-put-replaces-policy
        require_period()
        self.client.put_scaling_policy(
            AutoScalingGroupName=self.group,
            PolicyName=self.name,
            PolicyType=TARGET_TRACKING,
            **ec2_put_arguments(self._describe(), value),
        )


# --- ECS (Application Auto Scaling) --------------------------------------------------------------

ECS_NAMESPACE: Final[Literal["ecs"]] = "ecs"
ECS_DIMENSION: Final[Literal["ecs:service:DesiredCount"]] = "ecs:service:DesiredCount"


class EcsServiceFleet:
    """An ECS service: running = runningCount, desired = desiredCount (every scaling activity starts
    from the running count: docs/aws-behaviour.md#ecs-running-count)."""

    def __init__(self, cluster: str, service: str, client: ECSClient | None = None) -> None:
        self.cluster = cluster
        self.service = service
        self._client = client

    def capacity(self) -> FleetCapacity:
        client = self._client or clients.ecs()
        response = client.describe_services(cluster=self.cluster, services=[self.service])
        services = [s for s in response.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            reasons = ", ".join(f.get("reason", "?") for f in response.get("failures", [])) or "INACTIVE"
            raise ResourceNotFoundError(
                f"ECS service {self.service!r} in cluster {self.cluster!r} does not exist ({reasons})"
            )
        service = services[0]
        return FleetCapacity(running=service.get("runningCount", 0), desired=service.get("desiredCount", 0))


class EcsTargetPolicy:
    """A target-tracking policy on an ECS service's desired count."""

    def __init__(
        self, cluster: str, service: str, name: str, client: ApplicationAutoScalingClient | None = None
    ) -> None:
        self.resource_id = f"service/{cluster}/{service}"
        self.name = name
        self._client = client
        self._described: Any = None  # one invocation's read, reused by set_target

    @property
    def client(self) -> ApplicationAutoScalingClient:
        return self._client or clients.application_autoscaling()

    def _describe(self) -> Any:
        if self._described is not None:
            return self._described
        paginator = self.client.get_paginator("describe_scaling_policies")
        pages = paginator.paginate(
            ServiceNamespace=ECS_NAMESPACE,
            ResourceId=self.resource_id,
            ScalableDimension=ECS_DIMENSION,
            PolicyNames=[self.name],
        )
        # Filter by name here as well: the filter is not honoured everywhere (moto ignores it).
        for page in pages:
            for policy in page["ScalingPolicies"]:
                if (
                    policy["PolicyName"] == self.name
                    and policy["ResourceId"] == self.resource_id
                    and policy["PolicyType"] == TARGET_TRACKING
                ):
                    self._described = policy
                    return policy
        raise ResourceNotFoundError(
            f"target-tracking policy {self.name!r} of {self.resource_id!r} does not exist"
        )

    def current_target(self) -> float:
        return float(self._describe()["TargetTrackingScalingPolicyConfiguration"]["TargetValue"])

    def set_target(self, value: float) -> None:
        """Send the described configuration back with only TargetValue changed."""
        configuration: Any = ecs_configuration(self._describe(), value)
        self.client.put_scaling_policy(
            PolicyName=self.name,
            ServiceNamespace=ECS_NAMESPACE,
            ResourceId=self.resource_id,
            ScalableDimension=ECS_DIMENSION,
            PolicyType=TARGET_TRACKING,
            TargetTrackingScalingPolicyConfiguration=configuration,
        )


# --- other fleets on the same queue (blue/green) -------------------------------------------------


def peer_capacity(fleet: Fleet) -> FleetCapacity | None:
    """The peer's capacity, or None when it does not exist (yet, or any more): a blue/green peer
    comes and goes, and a missing one consumes nothing."""
    try:
        return fleet.capacity()
    except ResourceNotFoundError:
        return None
    except ClientError as err:  # DescribeServices on a deleted cluster
        if err.response.get("Error", {}).get("Code") == "ClusterNotFoundException":
            return None
        raise
