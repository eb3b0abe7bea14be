"""The scale-in lane in the SAM-translated template: its step policy equals
scaling.scale_in_lane.SCALE_IN_LANE_STEPS on both platforms, its alarm waits SCALE_IN_LANE_DATAPOINTS
one-minute datapoints, and ScaleInLane=false or a FIFO queue removes it."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from qas import emulator
from qas.demo.stack import scale_in_lane_steps
from queue_autoscaler.scaling.scale_in_lane import (
    SCALE_IN_LANE_DATAPOINTS,
    SCALE_IN_LANE_STEPS,
    SCALE_IN_LANE_THRESHOLD,
)
from tests.template.conftest import FLEET_NAME, active

LANE_RESOURCES = {"ScaleInLaneAlarm", "Ec2ScaleInLanePolicy", "EcsScaleInLanePolicy"}
POLICY = {"EC2": "Ec2ScaleInLanePolicy", "ECS": "EcsScaleInLanePolicy"}


def _steps_config(resources: dict[str, Any], platform: str) -> dict[str, Any]:
    props = dict(resources[POLICY[platform]]["Properties"])
    return props if platform == "EC2" else dict(props["StepScalingPolicyConfiguration"])


def as_removal_steps(steps: list[dict[str, Any]], threshold: float) -> list[tuple[float, int]]:
    """StepAdjustments (bounds relative to the threshold, negative percentages) -> (pressure below, %
    removed), lowest pressure first. Below the threshold a step's upper bound is the inclusive one."""
    return sorted(
        (round(threshold + s["MetricIntervalUpperBound"], 6), -s["ScalingAdjustment"]) for s in steps
    )


def test_steps_equal_the_models_on_both_platforms(resources: dict[str, Any], platform: str) -> None:
    config = _steps_config(resources, platform)
    assert resources[POLICY[platform]]["Properties"]["PolicyType"] == "StepScaling"
    assert config["AdjustmentType"] == "PercentChangeInCapacity"
    # AWS rounds a negative result between 0 and -1 to -1: no MinAdjustmentMagnitude needed.
    assert "MinAdjustmentMagnitude" not in config
    assert config["MetricAggregationType"] == "Maximum"
    if platform == "ECS":
        assert config["Cooldown"] == 60
    steps = sorted(config["StepAdjustments"], key=lambda s: s["MetricIntervalUpperBound"])
    assert as_removal_steps(steps, SCALE_IN_LANE_THRESHOLD) == list(SCALE_IN_LANE_STEPS)
    # Contiguous from the threshold down, the lowest open: as the scaling APIs require.
    assert steps[-1]["MetricIntervalUpperBound"] == 0
    assert all(
        a["MetricIntervalUpperBound"] == b["MetricIntervalLowerBound"] for a, b in itertools.pairwise(steps)
    )
    assert "MetricIntervalLowerBound" not in steps[0]
    assert all(s["ScalingAdjustment"] < 0 for s in steps)
    assert active({"WorkerPlatform": platform}) & LANE_RESOURCES == {"ScaleInLaneAlarm", POLICY[platform]}


@pytest.mark.parametrize("high_resolution", ["false", "true"])
def test_five_one_minute_datapoints_below_the_threshold_fire_the_policy(
    platform: str, high_resolution: str
) -> None:
    parameters = {"WorkerPlatform": platform, "HighResolutionMetrics": high_resolution}
    alarm = emulator.translate(parameters=parameters)["Resources"]["ScaleInLaneAlarm"]["Properties"]
    assert alarm["Threshold"] == SCALE_IN_LANE_THRESHOLD == max(upper for upper, _ in SCALE_IN_LANE_STEPS)
    assert (alarm["MetricName"], alarm["Statistic"]) == ("ScaleInPressure", "Maximum")
    assert alarm["Namespace"] == {"Ref": "MetricNamespace"}
    assert alarm["Dimensions"] == [{"Name": "FleetName", "Value": FLEET_NAME}]
    # One minute per datapoint in high-resolution mode too (5 datapoints of 10 s would be 50 s).
    assert alarm["Period"] == 60
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (SCALE_IN_LANE_DATAPOINTS,) * 2
    # A missing datapoint never scales in.
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("LessThanThreshold", "notBreaching")
    [action] = alarm["AlarmActions"]
    assert action == {"Fn::If": ["IsEC2", {"Ref": "Ec2ScaleInLanePolicy"}, {"Ref": "EcsScaleInLanePolicy"}]}


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


def test_dashboard_plots_scale_in_next_to_scale_out_pressure(resources: dict[str, Any]) -> None:
    template = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "0", template))  # placeholders: strings and one number
    [widget] = [
        w["properties"]
        for w in body["widgets"]
        if ["0", "ScaleOutPressure", "FleetName", "0"] in w["properties"]["metrics"]
    ]
    assert [".", "ScaleInPressure", ".", "."] in widget["metrics"]
    assert {"label": "scale-in lane", "value": SCALE_IN_LANE_THRESHOLD} in widget["annotations"]["horizontal"]


@pytest.mark.slow
@pytest.mark.filterwarnings(f"ignore:{emulator.SKIPPED_WARNING}")
def test_the_demo_reads_back_the_models_steps(stack: emulator.DeployedStack) -> None:
    # Deployed on the emulator: the demo hands the policy's steps to the model, exactly the simulator's.
    assert stack.scaling is not None
    assert scale_in_lane_steps(stack.scaling) == SCALE_IN_LANE_STEPS
    alarm = stack.scaling.alarms["ScaleInLaneAlarm"]
    policy = stack.scaling.policy_of(alarm)
    assert policy is not None and policy.logical_id == POLICY[stack.platform]
    assert (alarm.period, alarm.datapoints_to_alarm) == (60, SCALE_IN_LANE_DATAPOINTS)
