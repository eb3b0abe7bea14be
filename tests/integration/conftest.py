"""Handlers on moto's in-process `mock_aws`: fixtures that build the queue and the fleet."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from qas.emulator.lambda_context import LocalLambdaContext
from queue_autoscaler.adapters import clients
from queue_autoscaler.common.observability import logger
from queue_autoscaler.metric_publisher import app as publisher_app
from queue_autoscaler.producer import app as producer_app
from queue_autoscaler.target_tuner import app as tuner_app

EVENTS = Path(__file__).resolve().parents[2] / "events"
REGION = "us-east-1"
NAMESPACE = "QueueAutoscalerTest"
ASG_NAME = "workers-asg"
CLUSTER = "workers"
SERVICE = "workers-svc"
POLICY = "backlog-target-tracking"
MOTO_AMI = "ami-12c6146b"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    """A fresh fake cloud per test; clients and settings are made again inside it."""
    clients.reset_clients()
    for module in (publisher_app, tuner_app, producer_app):
        module.get_settings.cache_clear()
    with mock_aws():
        yield
    clients.reset_clients()


@pytest.fixture
def context() -> LocalLambdaContext:
    return LocalLambdaContext(function_name="test-function", timeout_seconds=60)


@pytest.fixture(autouse=True)
def _log_info(caplog: pytest.LogCaptureFixture) -> None:
    # Powertools' logger propagates to the root logger, where caplog listens.
    caplog.set_level(logging.INFO)


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """ERROR records of the functions' own logger (not botocore's, nor Tracer's re-raise note)."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == logger.name]


# --- builders ------------------------------------------------------------------------------------


def make_queue(name: str = "work") -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    attributes: Any = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def make_asg(desired: int, name: str = ASG_NAME) -> None:
    # moto's example AMI: describe_images would take seconds per test.
    boto3.client("ec2", region_name=REGION).create_launch_template(
        LaunchTemplateName=f"{name}-lt", LaunchTemplateData={"ImageId": MOTO_AMI, "InstanceType": "t3.micro"}
    )
    boto3.client("autoscaling", region_name=REGION).create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"{name}-lt", "Version": "$Latest"},
        MinSize=0,
        MaxSize=10,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{REGION}a"],
    )


def make_ecs_service(desired: int) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="workers", Description="workers", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(
        family="worker",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "worker", "image": "worker:latest", "essential": True}],
    )
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition="worker",
        desiredCount=0,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
    )
    # moto moves runningCount to desiredCount only on update_service.
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=desired)


def asg_policy_config(target: float) -> dict[str, Any]:
    return {
        "CustomizedMetricSpecification": {
            "MetricName": "BacklogPerInstance",
            "Namespace": NAMESPACE,
            "Dimensions": [{"Name": "FleetName", "Value": ASG_NAME}],
            "Statistic": "Average",
            "Unit": "None",
        },
        "TargetValue": target,
        "DisableScaleIn": False,
    }


def make_asg_policy(target: float) -> None:
    boto3.client("autoscaling", region_name=REGION).put_scaling_policy(
        AutoScalingGroupName=ASG_NAME,
        PolicyName=POLICY,
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration=asg_policy_config(target),  # type: ignore[arg-type]
        EstimatedInstanceWarmup=90,
        Enabled=True,
    )


def ecs_policy_config(target: float) -> dict[str, Any]:
    return {
        "TargetValue": target,
        "CustomizedMetricSpecification": {
            "MetricName": "BacklogPerInstance",
            "Namespace": NAMESPACE,
            "Dimensions": [{"Name": "FleetName", "Value": SERVICE}],
            "Statistic": "Average",
            "Unit": "None",
        },
        "ScaleOutCooldown": 60,
        "ScaleInCooldown": 120,
        "DisableScaleIn": False,
    }


def make_ecs_policy(target: float) -> None:
    aas = boto3.client("application-autoscaling", region_name=REGION)
    resource = f"service/{CLUSTER}/{SERVICE}"
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=0,
        MaxCapacity=10,
    )
    # A second policy with another name: the adapter must pick ours (moto ignores PolicyNames).
    for name, value in (("some-other-policy", 999.0), (POLICY, target)):
        aas.put_scaling_policy(
            PolicyName=name,
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=ecs_policy_config(value),  # type: ignore[arg-type]
        )


def metric_values(name: str, fleet: str, statistic: Any = "Sum") -> list[float]:
    """Every datapoint of one of our metrics, queried with exactly the FleetName dimension."""
    now = datetime.now(UTC)
    points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": "FleetName", "Value": fleet}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    return [p[statistic] for p in points]  # type: ignore[literal-required]


def metric_dimensions(fleet_metric_names: set[str]) -> dict[str, list[dict[str, str]]]:
    """Metric name -> its dimensions as stored (moto matches queries loosely, so look at these)."""
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"]
    return {
        m["MetricName"]: [{"Name": d["Name"], "Value": d["Value"]} for d in m.get("Dimensions", [])]
        for m in listed
        if m["MetricName"] in fleet_metric_names
    }
