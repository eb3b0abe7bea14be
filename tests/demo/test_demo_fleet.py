"""The demo's capacity side on moto: booting instances stay Pending, protection is honoured."""

from __future__ import annotations

from typing import Any, cast

import boto3
import pytest
from moto import mock_aws

from qas.demo.fleet import Ec2Capacity, EcsCapacity, Member, MemberState
from queue_autoscaler.scaling.backlog import FleetCapacity

GROUP = "demo-workers"


class FakeStub:
    def __init__(self, protected: bool) -> None:
        self.url = "http://127.0.0.1:1"
        self._protected = protected

    def protected(self) -> bool:
        return self._protected

    def close(self) -> None:
        return None


@pytest.fixture
def autoscaling():
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.create_launch_template(
            LaunchTemplateName="demo-lt",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
        )
        client = boto3.client("autoscaling", region_name="us-east-1")
        client.create_auto_scaling_group(
            AutoScalingGroupName=GROUP,
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=0,
            LaunchTemplate={"LaunchTemplateName": "demo-lt"},
            AvailabilityZones=["us-east-1a"],
        )
        yield client


def capacity(client) -> FleetCapacity:
    """What the metric publisher reads (adapters.fleet.AsgFleet): InService instances only."""
    from queue_autoscaler.adapters.fleet import AsgFleet

    return AsgFleet(GROUP, client=client).capacity()


def test_ec2_instances_boot_as_pending_and_never_launch_twice(autoscaling):
    api = Ec2Capacity(autoscaling, GROUP)
    members: dict[str, Member] = {}

    launched, terminated, blocked = api.set_desired(3, members)
    assert (len(launched), terminated, blocked) == (3, [], 0)
    assert capacity(autoscaling) == FleetCapacity(running=0, desired=3)

    # One worker started: that instance alone is InService.
    members[launched[0]] = Member(launched[0], 0.0, 0.0, state=MemberState.RUNNING)
    api.mark_running(members)
    assert capacity(autoscaling) == FleetCapacity(running=1, desired=3)

    # Raising desired launches only the difference, although two instances are still Pending.
    more, _, _ = api.set_desired(5, members)
    assert len(more) == 2
    assert capacity(autoscaling) == FleetCapacity(running=1, desired=5)


def test_ec2_scale_in_keeps_protected_instances_until_they_are_idle(autoscaling):
    api = Ec2Capacity(autoscaling, GROUP)
    launched, _, _ = api.set_desired(2, {})
    busy, idle = launched
    autoscaling.set_instance_protection(
        AutoScalingGroupName=GROUP, InstanceIds=[busy], ProtectedFromScaleIn=True
    )

    _, terminated, blocked = api.set_desired(0, {})
    assert (terminated, blocked) == ([idle], 1)

    autoscaling.set_instance_protection(
        AutoScalingGroupName=GROUP, InstanceIds=[busy], ProtectedFromScaleIn=False
    )
    _, terminated, blocked = api.set_desired(0, {})
    assert (terminated, blocked) == ([busy], 0)


def test_ecs_scale_in_stops_only_unprotected_tasks_and_running_count_follows_workers():
    with mock_aws():
        ecs = boto3.client("ecs", region_name="us-east-1")
        ecs.create_cluster(clusterName="demo-cluster")
        ecs.register_task_definition(
            family="w", containerDefinitions=[{"name": "w", "image": "x", "memory": 128}]
        )
        ecs.create_service(cluster="demo-cluster", serviceName=GROUP, taskDefinition="w", desiredCount=0)
        api = EcsCapacity(ecs, "demo-cluster", GROUP)
        members: dict[str, Member] = {}

        launched, _, _ = api.set_desired(3, members)
        assert len(launched) == 3
        for index, task in enumerate(launched):
            members[task] = Member(task, float(index), 0.0, state=MemberState.RUNNING)
            members[task].stub = FakeStub(protected=index < 2)
            members[task].proc = cast(Any, object())  # only its presence is counted
        api.mark_running(members)
        service = ecs.describe_services(cluster="demo-cluster", services=[GROUP])["services"][0]
        assert (service["desiredCount"], service["runningCount"]) == (3, 3)

        _, terminated, blocked = api.set_desired(0, members)
        assert (terminated, blocked) == ([launched[2]], 2)
