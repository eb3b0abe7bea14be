"""Attach mode on the translated template: scaling around a group or service built elsewhere.

With ExistingAutoScalingGroupName (EC2) or ExistingEcsClusterName + ExistingEcsServiceName (ECS) the
stack creates no fleet, points every scaling resource, metric dimension and IAM statement at the
named group or service, and ignores the fleet-only parameters (docs/attach.md). The deployed side
(the same template on moto, scaling a group or service the demo created) is
tests/demo/test_demo_attach.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from qas import emulator
from qas.doctor import config
from tests.template.conftest import template_strings

STACK = "qas"
GROUP = "their-workers"
CLUSTER = "their-cluster"
SERVICE = "their-service"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:their-jobs"
GROUP_ARN = (
    f"arn:aws:autoscaling:{emulator.REGION}:{emulator.ACCOUNT_ID}"
    f":autoScalingGroup:*:autoScalingGroupName/{GROUP}"
)
SERVICE_ARN = f"arn:aws:ecs:{emulator.REGION}:{emulator.ACCOUNT_ID}:service/{CLUSTER}/{SERVICE}"

ATTACH = {
    "EC2": {"WorkerPlatform": "EC2", "ExistingAutoScalingGroupName": GROUP},
    "ECS": {"WorkerPlatform": "ECS", "ExistingEcsClusterName": CLUSTER, "ExistingEcsServiceName": SERVICE},
}
FLEET = {"EC2": GROUP, "ECS": SERVICE}

# What only a fleet of the stack's own has: the fleet, what runs on it, and what rolls it out.
FLEET_TYPES = {
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::AutoScaling::LifecycleHook",
    "AWS::AutoScaling::WarmPool",
    "AWS::EC2::LaunchTemplate",
    "AWS::IAM::InstanceProfile",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ECR::Repository",
}
# Roles of workers: an attached fleet's instances or tasks have roles of their own.
WORKER_PRINCIPALS = {"ec2.amazonaws.com", "ecs-tasks.amazonaws.com"}


def _resolved(parameters: dict[str, str]) -> tuple[dict[str, Any], emulator.Resolver]:
    template = emulator.translate(parameters=parameters)
    values = config.effective_parameters(
        template, {"SubnetIds": "subnet-1", "SecurityGroupIds": "sg-1", **parameters}
    )
    resolver = emulator.Resolver(
        template, values, STACK, ref=lambda name: f"<{name}>", get_att=lambda name, attr: f"<{name}.{attr}>"
    )
    return template, resolver


def _active(parameters: dict[str, str]) -> dict[str, Any]:
    template, resolver = _resolved(parameters)
    return {
        name: resolver.resolve(resource)
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }


def _outputs(parameters: dict[str, str]) -> dict[str, Any]:
    template, resolver = _resolved(parameters)
    return {
        name: resolver.resolve(output["Value"])
        for name, output in template["Outputs"].items()
        if "Condition" not in output or resolver.condition(output["Condition"])
    }


def _statements(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        statement["Sid"]: statement
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    }


def _principals(resources: dict[str, Any]) -> set[str]:
    return {
        str(statement["Principal"].get("Service"))
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    }


def _env(resources: dict[str, Any], function: str) -> dict[str, str]:
    return dict(resources[function]["Properties"]["Environment"]["Variables"])


# ---------------------------------------------------------------- no fleet


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_an_attached_fleet_gets_no_fleet_resources(platform: str) -> None:
    own = _active({"WorkerPlatform": platform})
    attached = _active(ATTACH[platform])

    own_types = {resource["Type"] for resource in own.values()}
    attached_types = {resource["Type"] for resource in attached.values()}
    # The stack's own fleet has them (the check sees them when they are there) ...
    assert own_types & FLEET_TYPES
    assert _principals(own) & WORKER_PRINCIPALS
    # ... an attached one none: no group, launch template, instance profile, cluster, service, task
    # definition, repository, worker role, container log group or rollout function.
    assert not attached_types & FLEET_TYPES
    assert not _principals(attached) & WORKER_PRINCIPALS
    log_groups = {
        str(r["Properties"]["LogGroupName"]) for r in attached.values() if r["Type"] == "AWS::Logs::LogGroup"
    }
    assert log_groups == {
        f"/aws/lambda/{STACK}-{name}" for name in ("metric-publisher", "target-tuner", "producer")
    }
    assert not any(name.startswith("FleetRollout") for name in attached)
    assert "WorkerRepositoryUri" not in _outputs(ATTACH[platform])


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_an_attached_fleet_keeps_every_scaling_and_operations_resource(platform: str) -> None:
    own = _active({"WorkerPlatform": platform})
    attached = _active(ATTACH[platform])
    fleet_names = {"WorkerGroup", "WorkerLaunchTemplate", "WorkerInstanceProfile", "WorkerInstanceRole"}
    fleet_names |= {"Cluster", "TaskDefinition", "TaskExecutionRole", "TaskRole", "WorkerService"}
    fleet_names |= {"WorkerRepository", "WorkerLogGroup"} | {n for n in own if n.startswith("FleetRollout")}
    assert set(attached) == set(own) - fleet_names


# ---------------------------------------------------------------- the named group or service


def test_the_ec2_policies_alarms_and_functions_name_the_attached_group() -> None:
    resources = _active(ATTACH["EC2"])

    policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::AutoScaling::ScalingPolicy"]
    assert len(policies) == 5  # tracking, bootstrap, shutdown, fast lane, scale-in lane
    assert {p["AutoScalingGroupName"] for p in policies} == {GROUP}
    tracking = next(p for p in policies if p["PolicyType"] == "TargetTrackingScaling")
    dimensions = tracking["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Dimensions"]
    assert dimensions == [{"Name": "FleetName", "Value": GROUP}]
    for function in ("MetricPublisherFunction", "TargetTunerFunction"):
        env = _env(resources, function)
        assert (env["FLEET_PLATFORM"], env["FLEET_NAME"], env["ECS_CLUSTER"]) == ("EC2", GROUP, "")
    assert _outputs(ATTACH["EC2"])["FleetName"] == GROUP


def test_the_ecs_scalable_target_is_the_attached_service() -> None:
    resources = _active({**ATTACH["ECS"], "MaxCapacity": "7"})

    [target] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    assert target["ResourceId"] == f"service/{CLUSTER}/{SERVICE}"
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    assert (str(target["MinCapacity"]), str(target["MaxCapacity"])) == ("0", "7")
    policies = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"
    ]
    assert len(policies) == 5 and {p["ScalingTargetId"] for p in policies} == {"<EcsScalableTarget>"}
    for function in ("MetricPublisherFunction", "TargetTunerFunction"):
        env = _env(resources, function)
        assert (env["FLEET_PLATFORM"], env["FLEET_NAME"], env["ECS_CLUSTER"]) == ("ECS", SERVICE, CLUSTER)
    outputs = _outputs(ATTACH["ECS"])
    assert (outputs["FleetName"], outputs["ClusterName"]) == (SERVICE, CLUSTER)


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_every_metric_dimension_names_the_attached_fleet(platform: str) -> None:
    resources = _active(ATTACH[platform])

    fleets = {
        str(item["Value"])
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        for item in _dimension_items(resource["Properties"])
        if item["Name"] == "FleetName"
    }
    assert fleets == {FLEET[platform]}
    dashboard = str(resources["Dashboard"]["Properties"]["DashboardBody"])
    assert f'"FleetName", "{FLEET[platform]}"' in dashboard
    # Nothing anywhere still names the fleet the stack would have created.
    leftovers = [s for s in template_strings(resources) if f"{STACK}-workers" in s or f"{STACK}-cluster" in s]
    assert leftovers == []


def _dimension_items(alarm: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from alarm.get("Dimensions", [])
    for query in alarm.get("Metrics", []):
        yield from query.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])


# ---------------------------------------------------------------- least privilege on that fleet


def test_ec2_iam_is_scoped_to_the_attached_group() -> None:
    resources = _active(ATTACH["EC2"])

    tuner = _statements(resources["TargetTunerFunctionRole"])
    assert tuner["UpdateGroupPolicy"]["Action"] == "autoscaling:PutScalingPolicy"
    assert tuner["UpdateGroupPolicy"]["Resource"] == GROUP_ARN
    # The only group ARNs any role names are the attached group's.
    arns = {s for s in template_strings(resources) if ":autoScalingGroup:" in s}
    assert arns == {GROUP_ARN}


def test_ecs_iam_is_scoped_to_the_attached_service() -> None:
    resources = _active(ATTACH["ECS"])

    tuner = _statements(resources["TargetTunerFunctionRole"])
    assert tuner["CheckService"]["Resource"] == SERVICE_ARN
    alarms = tuner["ManageTrackingAlarms"]["Resource"]
    assert alarms.endswith(f":alarm:TargetTracking-service/{CLUSTER}/{SERVICE}-*")
    publisher = _statements(resources["MetricPublisherFunctionRole"])
    assert publisher["ReadServiceCapacity"]["Resource"] == SERVICE_ARN
    arns = {s for s in template_strings(resources) if ":ecs:" in s and ":service/" in s}
    assert arns == {SERVICE_ARN}


# ---------------------------------------------------------------- the user's own consumer


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_the_tuner_and_the_dashboard_say_the_consumer_is_not_ours(platform: str) -> None:
    attached = _active(ATTACH[platform])
    own = _active({"WorkerPlatform": platform})

    assert _env(attached, "TargetTunerFunction")["FLEET_ATTACHED"] == "true"
    assert _env(own, "TargetTunerFunction")["FLEET_ATTACHED"] == "false"
    assert "Little's law" in str(attached["Dashboard"]["Properties"]["DashboardBody"])
    assert "Little's law" not in str(own["Dashboard"]["Properties"]["DashboardBody"])


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_fleet_only_parameters_are_ignored_when_attached(platform: str) -> None:
    fleet_only = {
        "WorkerImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/other:2",
        "WorkerImageTag": "v9",
        "InstanceTypes": "m7g.large,m6g.large",
        "OnDemandPercentage": "100",
        "WorkerBootTimeoutSeconds": "900",
        "WorkerAmiId": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "WorkerShutdownGraceSeconds": "50",
        "UseFargateSpot": "true",
        "TaskCpu": "1024",
        "TaskMemory": "2048",
        "FargateCpuArchitecture": "ARM64",
        "ContainerInsights": "enabled",
        "SubnetIds": "subnet-other",
        "SecurityGroupIds": "sg-other",
    }
    assert _active({**ATTACH[platform], **fleet_only}) == _active(ATTACH[platform])
    # ... which they are not for the stack's own fleet (the comparison can fail).
    assert _active({"WorkerPlatform": platform, **fleet_only}) != _active({"WorkerPlatform": platform})


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_attach_works_with_an_existing_queue(platform: str) -> None:
    resources = _active({**ATTACH[platform], "ExistingQueueArn": QUEUE_ARN})

    assert not any(r["Type"] == "AWS::SQS::Queue" for r in resources.values())
    assert _env(resources, "MetricPublisherFunction")["QUEUE_URL"] == (
        "https://sqs.us-east-1.amazonaws.com/123456789012/their-jobs"
    )
    assert _env(resources, "TargetTunerFunction")["QUEUE_NAME"] == "their-jobs"
    read = _statements(resources["MetricPublisherFunctionRole"])["ReadQueueDepth"]
    assert read["Resource"] == QUEUE_ARN


@pytest.mark.parametrize(
    ("parameters", "broken"),
    [
        (ATTACH["EC2"], set()),
        (ATTACH["ECS"], set()),
        ({"WorkerPlatform": "ECS", "ExistingEcsClusterName": CLUSTER}, {"EcsServiceNamesTogether"}),
        ({"WorkerPlatform": "ECS", "ExistingEcsServiceName": SERVICE}, {"EcsServiceNamesTogether"}),
        ({**ATTACH["ECS"], "WorkerPlatform": "EC2"}, {"AttachedFleetMatchesPlatform"}),
        (
            {"WorkerPlatform": "EC2", "ExistingEcsServiceName": SERVICE},
            {"AttachedFleetMatchesPlatform", "EcsServiceNamesTogether"},
        ),
        ({**ATTACH["EC2"], "WorkerPlatform": "ECS"}, {"AttachedServiceMatchesPlatform"}),
        ({**ATTACH["EC2"], **ATTACH["ECS"]}, {"AttachedServiceMatchesPlatform"}),
    ],
)
def test_rules_refuse_attach_names_that_do_not_fit_together(
    parameters: dict[str, str], broken: set[str]
) -> None:
    template = emulator.translate(parameters={"WorkerPlatform": parameters["WorkerPlatform"]})
    values = config.effective_parameters(template, parameters)

    assert {name for name, _ in config.broken_rules(template, values)} == broken


@pytest.mark.parametrize(
    "name", ["ExistingAutoScalingGroupName", "ExistingEcsClusterName", "ExistingEcsServiceName"]
)
def test_attach_names_cannot_widen_the_iam_statements(name: str) -> None:
    # The names are embedded in ARNs: a wildcard would grant every group or service of the account.
    pattern = re.compile(emulator.load_template()["Parameters"][name]["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("my-workers_2")
    for wide in ("*", "work*", "a?", "cluster/service", "arn:aws:ecs:us-east-1:1:service/c/s"):
        assert not pattern.fullmatch(wide), wide


def test_an_attached_group_gets_no_warm_pool_even_when_one_is_asked_for() -> None:
    # The pool belongs to the group's owner: WarmPool is a fleet-only parameter, ignored when attached.
    pool = {"WarmPool": "Stopped", "WarmPoolSize": "2", "OnDemandPercentage": "100"}
    own = _active({"WorkerPlatform": "EC2", **pool})
    attached = _active({**ATTACH["EC2"], **pool})
    assert any(resource["Type"] == "AWS::AutoScaling::WarmPool" for resource in own.values())
    assert not any(resource["Type"] == "AWS::AutoScaling::WarmPool" for resource in attached.values())
