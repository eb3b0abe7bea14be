"""The scale-in lane in the SAM-translated template: ScaleInLane=false removes it unless KeepWarm
needs it, a FIFO queue keeps it, and the demo reads back the spec's steps from what was deployed. Its steps
and alarm are held equal to the policy spec by test_policy_spec.py."""

from __future__ import annotations

from typing import Any

import pytest

from qas import emulator
from qas.demo.stack import scale_in_lane_steps
from queue_autoscaler.scaling.policy_spec import POLICY
from tests.template.conftest import active

LANE_RESOURCES = {"ScaleInLaneAlarm", "Ec2ScaleInLanePolicy", "EcsScaleInLanePolicy"}
LANE_POLICY = {"EC2": "Ec2ScaleInLanePolicy", "ECS": "EcsScaleInLanePolicy"}


FIFO_QUEUES = [
    {"QueueType": "FIFO"},
    {"ExistingQueueArn": "arn:aws:sqs:us-east-1:123456789012:jobs.fifo"},
    {"ExtraQueueArns": "arn:aws:sqs:us-east-1:123456789012:later.fifo"},
]
FIFO_IDS = ["own-fifo-queue", "existing-fifo-queue", "extra-fifo-queue"]


def test_off_removes_the_alarm_and_the_policies(platform: str) -> None:
    parameters = {"WorkerPlatform": platform, "ScaleInLane": "false"}
    assert active(parameters) & LANE_RESOURCES == set()
    # The rest of the scaling stays: target tracking, bootstrap and shutdown.
    assert {"BootstrapAlarm", "ShutdownAlarm"} <= active(parameters)


@pytest.mark.parametrize("queue", FIFO_QUEUES, ids=FIFO_IDS)
def test_a_fifo_queue_keeps_the_lane_and_drops_the_fast_lane(platform: str, queue: dict[str, str]) -> None:
    # The lane lowers a FIFO fleet's cost for the same attainment (docs/design.md, "FIFO queues");
    # the fast lane stays off (test_fast_lane.py).
    resources = active({"WorkerPlatform": platform, **queue})
    assert {"ScaleInLaneAlarm", LANE_POLICY[platform]} <= resources
    assert not {"FastLaneAlarm", "Ec2FastLanePolicy", "EcsFastLanePolicy"} & resources
    assert active({"WorkerPlatform": platform, "ScaleInLane": "false", **queue}) & LANE_RESOURCES == set()


def test_condition_is_the_parameter_unless_keep_warm_needs_it(translated: dict[str, Any]) -> None:
    conditions = translated["Conditions"]
    assert conditions["ScaleInLaneOn"] == {
        "Fn::Or": [
            {"Condition": "KeepWarmOn"},  # target tracking's scale-in is off then (test_keep_warm.py)
            {"Fn::Equals": [{"Ref": "ScaleInLane"}, "true"]},
        ]
    }
    assert {translated["Resources"][logical_id]["Condition"] for logical_id in LANE_RESOURCES} == {
        "ScaleInLaneOn",
        "Ec2ScaleInLane",
        "EcsScaleInLane",
    }


def test_parameter_defaults_to_on_and_is_grouped_with_the_fast_lane() -> None:
    template = emulator.load_template()
    assert template["Parameters"]["ScaleInLane"]["Default"] == "true"
    assert template["Parameters"]["ScaleInLane"]["AllowedValues"] == ["true", "false"]
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    [scaling] = [group["Parameters"] for group in groups if "FastLane" in group["Parameters"]]
    assert "ScaleInLane" in scaling


@pytest.mark.slow
@pytest.mark.filterwarnings(f"ignore:{emulator.SKIPPED_WARNING}")
def test_the_demo_reads_back_the_models_steps(stack: emulator.DeployedStack) -> None:
    # Deployed on the emulator: the demo hands the policy's steps to the model, exactly the simulator's.
    assert stack.scaling is not None
    assert scale_in_lane_steps(stack.scaling) == POLICY.scale_in_lane_steps
    alarm = stack.scaling.alarms["ScaleInLaneAlarm"]
    policy = stack.scaling.policy_of(alarm)
    assert policy is not None and policy.logical_id == LANE_POLICY[stack.platform]
    assert (alarm.period, alarm.datapoints_to_alarm) == (60, POLICY.scale_in_lane_datapoints)
