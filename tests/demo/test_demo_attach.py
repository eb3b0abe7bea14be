"""`qas demo --quick --attach` end to end: the stack deployed in attach mode onto a group (EC2) or a
service (ECS) the demo created outside it, the same load, nothing lost, back to 0."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from qas import emulator
from qas.demo import attach
from qas.demo import stack as demo_stack
from qas.demo.cli import add_arguments, config_from, run
from qas.model.control_plane import Platform

# What the stack creates for a fleet of its own, and must not for an attached one.
FLEET_TYPES = {
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::EC2::LaunchTemplate",
    "AWS::IAM::InstanceProfile",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ECR::Repository",
}


def _desired(endpoint: str, platform: str) -> int:
    """The user's fleet's desired capacity, read with the platform's own API."""
    if platform == "EC2":
        groups = emulator.client(endpoint, "autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[attach.GROUP]
        )["AutoScalingGroups"]
        return int(groups[0]["DesiredCapacity"])
    services = emulator.client(endpoint, "ecs").describe_services(
        cluster=attach.CLUSTER, services=[attach.SERVICE]
    )["services"]
    return int(services[0]["desiredCount"])


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_attached_quick_demo_scales_the_users_fleet_and_loses_nothing(
    platform, tmp_path, capsys, monkeypatch
):
    seen: dict[str, Any] = {}
    original = emulator.deploy

    def deploy_and_look(endpoint: str, *args: Any, **kwargs: Any) -> emulator.DeployedStack:
        # The user's fleet exists, at 0, before the stack does ...
        seen["desired_before"] = _desired(endpoint, platform)
        deployed = original(endpoint, *args, **kwargs)
        # ... and CloudFormation left its capacity alone (the stack does not own it).
        seen["desired_after"] = _desired(endpoint, platform)
        seen["stack"] = deployed
        return deployed

    monkeypatch.setattr(demo_stack.emulator, "deploy", deploy_and_look)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--quick", "--attach", "--platform", platform, "--report-dir", str(tmp_path)])

    code = run(args)

    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0, printed
    assert (seen["desired_before"], seen["desired_after"]) == (0, 0)
    deployed: emulator.DeployedStack = seen["stack"]
    # The stack made no fleet of its own and scales the user's one.
    created = {deployed.template["Resources"][logical]["Type"] for logical in deployed.physical_ids}
    assert not created & FLEET_TYPES
    assert deployed.parameters | attach.attach_parameters(Platform(platform)) == deployed.parameters
    assert deployed.scaling is not None
    fleet = attach.GROUP if platform == "EC2" else attach.SERVICE
    assert deployed.outputs["FleetName"] == deployed.scaling.fleet_name == fleet
    if platform == "ECS":
        assert deployed.scaling.scalable_target is not None
        assert deployed.scaling.scalable_target.resource_id == f"service/{attach.CLUSTER}/{attach.SERVICE}"
    assert f"fleet {fleet} ({platform})" in printed
    # The same load as the stack's own fleet gets: every message processed, none lost, back to 0.
    assert summary["sent"] > 0 and summary["processed"] == summary["sent"]
    assert (summary["dlq"], summary["still_queued"], summary["lost"]) == (0, 0, 0)
    assert not summary["lambda_failures"]
    assert summary["peak_capacity"] > 1
    assert summary["fleet_back_to_zero"] and summary["final_desired"] == summary["final_running"] == 0
    assert summary["settings"]["attach"] is True
    if platform == "EC2":  # the user's group's warm-up, which moto does not keep, reaches the model
        assert summary["control"]["instance_warmup_s"] == attach.GROUP_WARMUP_S


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--platform", "EC2"], {}),
        (["--platform", "EC2", "--attach"], {"ExistingAutoScalingGroupName": attach.GROUP}),
        (
            ["--platform", "ECS", "--attach"],
            {"ExistingEcsClusterName": attach.CLUSTER, "ExistingEcsServiceName": attach.SERVICE},
        ),
    ],
)
def test_attach_flag_sets_the_attach_parameters_of_the_platform(
    argv: list[str], expected: dict[str, str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    cfg = config_from(parser.parse_args(argv))

    names = ("ExistingAutoScalingGroupName", "ExistingEcsClusterName", "ExistingEcsServiceName")
    given = {name: value for name, value in demo_stack.stack_parameters(cfg).items() if name in names}
    assert given == expected
    assert cfg.attach is bool(expected)
