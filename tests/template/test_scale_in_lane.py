"""The scale-in lane in the SAM-translated template: ScaleInLane=false or a FIFO queue removes it
unless KeepWarm needs it, and the demo reads back the spec's steps from what was deployed. Its steps
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


@pytest.mark.parametrize(
    "parameters",
    [
        {"ScaleInLane": "false"},
        {"QueueType": "FIFO"},
        {"ExistingQueueArn": "arn:aws:sqs:us-east-1:123456789012:jobs.fifo"},
        {"ExtraQueueArns": "arn:aws:sqs:us-east-1:123456789012:later.fifo"},
    ],
    ids=["off", "own-fifo-queue", "existing-fifo-queue", "extra-fifo-queue"],
)
def test_off_or_a_fifo_queue_removes_the_alarm_and_the_policies(
    platform: str, parameters: dict[str, str]
) -> None:
    assert active({"WorkerPlatform": platform, **parameters}) & LANE_RESOURCES == set()
    # The rest of the scaling stays: target tracking, bootstrap and shutdown.
    assert {"BootstrapAlarm", "ShutdownAlarm"} <= active({"WorkerPlatform": platform, **parameters})


def test_condition_mirrors_the_fast_lane_unless_keep_warm_needs_it(translated: dict[str, Any]) -> None:
    conditions = translated["Conditions"]
    assert conditions["ScaleInLaneOn"] == {
        "Fn::Or": [
            {"Condition": "KeepWarmOn"},  # target tracking's scale-in is off then (test_keep_warm.py)
            {
                "Fn::And": [
                    {"Fn::Equals": [{"Ref": "ScaleInLane"}, "true"]},
                    {"Fn::Not": [{"Condition": "AnyFifoQueue"}]},
                ]
            },
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
