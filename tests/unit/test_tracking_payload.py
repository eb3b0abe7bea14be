"""The tuner's PutScalingPolicy payload: explicit fields, an empty Metrics list dropped, Period kept.

Round trips on moto (it stores and describes policies as sent, Metrics and Period included); the
describe answers moto cannot produce (an empty Metrics list) go through botocore's Stubber, which
validates the put against the service model.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from queue_autoscaler.adapters import tracking_payload
from queue_autoscaler.adapters.fleet import AsgTargetPolicy, EcsTargetPolicy

REGION = "us-east-1"
GROUP = "qas-workers"
SINGLE_METRIC: dict[str, Any] = {
    "MetricName": "BacklogPerInstance",
    "Namespace": "QueueAutoscaler",
    "Dimensions": [{"Name": "FleetName", "Value": GROUP}],
    "Statistic": "Average",
}


def _group(autoscaling: Any, ec2: Any) -> None:
    template = ec2.create_launch_template(
        LaunchTemplateName="workers",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        MinSize=0,
        MaxSize=4,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "1"},
        AvailabilityZones=[f"{REGION}a"],
    )


@mock_aws
def test_ec2_round_trip_keeps_period_and_every_other_field() -> None:
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    _group(autoscaling, boto3.client("ec2", region_name=REGION))
    autoscaling.put_scaling_policy(
        AutoScalingGroupName=GROUP,
        PolicyName="tracking",
        PolicyType="TargetTrackingScaling",
        EstimatedInstanceWarmup=60,
        TargetTrackingConfiguration={
            "TargetValue": 30.0,
            "DisableScaleIn": False,
            "CustomizedMetricSpecification": {**SINGLE_METRIC, "Period": 10},
        },
    )

    AsgTargetPolicy(GROUP, "tracking", client=autoscaling).set_target(42.0)

    (policy,) = autoscaling.describe_policies(AutoScalingGroupName=GROUP, PolicyNames=["tracking"])[
        "ScalingPolicies"
    ]
    configuration = policy["TargetTrackingConfiguration"]
    assert configuration["TargetValue"] == 42.0
    assert configuration["CustomizedMetricSpecification"]["Period"] == 10
    assert configuration["CustomizedMetricSpecification"]["MetricName"] == "BacklogPerInstance"
    assert "Metrics" not in configuration["CustomizedMetricSpecification"]
    assert configuration["DisableScaleIn"] is False
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["EstimatedInstanceWarmup"] == 60


def test_ec2_empty_metrics_list_is_not_sent_back() -> None:
    # A describe that answers the single-metric form with an empty `Metrics` list next to it.
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    described = {
        "PolicyName": "tracking",
        "PolicyType": "TargetTrackingScaling",
        "Enabled": True,
        "TargetTrackingConfiguration": {
            "TargetValue": 30.0,
            "CustomizedMetricSpecification": {**SINGLE_METRIC, "Metrics": [], "Period": 10},
        },
    }
    with Stubber(autoscaling) as stub:
        stub.add_response("describe_policies", {"ScalingPolicies": [described]})
        stub.add_response(
            "put_scaling_policy",
            {"PolicyARN": "arn", "Alarms": []},
            {
                "AutoScalingGroupName": GROUP,
                "PolicyName": "tracking",
                "PolicyType": "TargetTrackingScaling",
                "Enabled": True,
                "TargetTrackingConfiguration": {
                    "TargetValue": 12.5,
                    "CustomizedMetricSpecification": {**SINGLE_METRIC, "Period": 10},
                },
            },
        )
        AsgTargetPolicy(GROUP, "tracking", client=autoscaling).set_target(12.5)
        stub.assert_no_pending_responses()


def test_a_metric_math_spec_keeps_its_metrics_and_period_and_nothing_else() -> None:
    metrics = [{"Id": "m", "Expression": "1", "ReturnData": True}]
    described = {
        "TargetTrackingConfiguration": {
            "TargetValue": 5.0,
            "CustomizedMetricSpecification": {"Metrics": metrics, "Period": 30, "Namespace": "stale"},
            "SomethingNewer": {"x": 1},
        },
        "PolicyARN": "arn",
        "Alarms": [],
    }
    arguments = tracking_payload.ec2_put_arguments(described, 6.0)
    assert arguments == {
        "TargetTrackingConfiguration": {
            "TargetValue": 6.0,
            "CustomizedMetricSpecification": {"Metrics": metrics, "Period": 30},
        }
    }


@mock_aws
def test_ecs_round_trip_keeps_cooldowns_and_metric() -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="cluster")
    ecs.register_task_definition(
        family="worker", containerDefinitions=[{"name": "worker", "image": "worker:v1", "memory": 512}]
    )
    ecs.create_service(cluster="cluster", serviceName="qas-workers", taskDefinition="worker")
    client = boto3.client("application-autoscaling", region_name=REGION)
    resource = "service/cluster/qas-workers"
    client.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=0,
        MaxCapacity=3,
    )
    client.put_scaling_policy(
        PolicyName="tracking",
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 30.0,
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 300,
            "DisableScaleIn": False,
            "CustomizedMetricSpecification": SINGLE_METRIC,
        },
    )

    EcsTargetPolicy("cluster", "qas-workers", "tracking", client=client).set_target(48.0)

    (policy,) = [
        p
        for p in client.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
        if p["PolicyName"] == "tracking"
    ]
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["TargetValue"] == 48.0
    assert (configuration["ScaleOutCooldown"], configuration["ScaleInCooldown"]) == (60, 300)
    assert configuration["CustomizedMetricSpecification"] == SINGLE_METRIC


def test_a_botocore_without_period_fails_instead_of_resetting_the_period() -> None:
    real = botocore.session.get_session().get_service_model("autoscaling")

    class WithoutPeriod:
        """The autoscaling model of a botocore from before 10 s tracking."""

        def shape_for(self, name: str) -> Any:
            shape = real.shape_for(name)
            return type("Shape", (), {"members": {k: v for k, v in shape.members.items() if k != "Period"}})

    with pytest.raises(tracking_payload.BotocoreTooOldError, match="Period"):
        tracking_payload.require_period(WithoutPeriod())


def test_the_bundled_botocore_knows_period() -> None:
    tracking_payload.require_period()
