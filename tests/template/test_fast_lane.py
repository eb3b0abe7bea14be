"""The fast lane and the tuner's new settings in the SAM-translated template: the step policy equals
qas.model.control_plane.FAST_LANE_STEPS on both platforms, FastLane=false removes it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from qas import emulator
from qas.model.control_plane import FAST_LANE_STEPS
from queue_autoscaler.scaling.slo_guard import DEFAULT_SHARE
from queue_autoscaler.scaling.tuning import DEFAULT_MAX_LOOKBACK_MINUTES
from tests.template.conftest import FLEET_NAME, active

FAST_LANE_RESOURCES = {"FastLaneAlarm", "Ec2FastLanePolicy", "EcsFastLanePolicy"}
POLICY = {"EC2": "Ec2FastLanePolicy", "ECS": "EcsFastLanePolicy"}
THRESHOLD = min(pressure for pressure, _ in FAST_LANE_STEPS)


def _steps_config(resources: dict[str, Any], platform: str) -> dict[str, Any]:
    props = dict(resources[POLICY[platform]]["Properties"])
    return props if platform == "EC2" else dict(props["StepScalingPolicyConfiguration"])


def as_pressure_steps(steps: list[dict[str, Any]], threshold: float) -> list[tuple[float, float]]:
    """StepAdjustments (bounds relative to the threshold, percentages) -> (pressure, share) pairs."""
    return [(threshold + s["MetricIntervalLowerBound"], s["ScalingAdjustment"] / 100) for s in steps]


def test_steps_equal_the_models_on_both_platforms(resources: dict[str, Any], platform: str) -> None:
    config = _steps_config(resources, platform)
    assert resources[POLICY[platform]]["Properties"]["PolicyType"] == "StepScaling"
    assert (config["AdjustmentType"], config["MinAdjustmentMagnitude"]) == ("PercentChangeInCapacity", 1)
    assert config["MetricAggregationType"] == "Maximum"
    if platform == "ECS":
        assert config["Cooldown"] == 60
    steps = config["StepAdjustments"]
    assert as_pressure_steps(steps, THRESHOLD) == [
        (pytest.approx(p), pytest.approx(s)) for p, s in FAST_LANE_STEPS
    ]
    # Contiguous, the last one open: as the scaling APIs require.
    assert all(
        a["MetricIntervalUpperBound"] == b["MetricIntervalLowerBound"] for a, b in itertools.pairwise(steps)
    )
    assert "MetricIntervalUpperBound" not in steps[-1]
    assert active({"WorkerPlatform": platform}) & FAST_LANE_RESOURCES == {"FastLaneAlarm", POLICY[platform]}


def test_one_datapoint_above_the_lowest_step_fires_the_policy(
    resources: dict[str, Any], platform: str
) -> None:
    alarm = resources["FastLaneAlarm"]["Properties"]
    assert alarm["Threshold"] == THRESHOLD
    assert (alarm["MetricName"], alarm["Statistic"]) == ("ScaleOutPressure", "Maximum")
    assert alarm["Namespace"] == {"Ref": "MetricNamespace"}
    assert alarm["Dimensions"] == [{"Name": "FleetName", "Value": FLEET_NAME}]
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("GreaterThanThreshold", "missing")
    assert alarm["Period"] == {"Fn::If": ["HighResolution", 10, 60]}
    [action] = alarm["AlarmActions"]
    assert action == {"Fn::If": ["IsEC2", {"Ref": "Ec2FastLanePolicy"}, {"Ref": "EcsFastLanePolicy"}]}


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_fast_lane_false_removes_the_alarm_and_the_policy(platform: str) -> None:
    translated = emulator.translate(parameters={"WorkerPlatform": platform, "FastLane": "false"})
    condition = translated["Conditions"]["FastLaneOn"]
    # FastLane=true, and never on a FIFO queue (its oldest message waits behind its own group)
    assert condition == {
        "Fn::And": [
            {"Fn::Equals": [{"Ref": "FastLane"}, "true"]},
            {"Fn::Not": [{"Condition": "AnyFifoQueue"}]},
        ]
    }
    for logical_id in FAST_LANE_RESOURCES & set(translated["Resources"]):
        # The resources stay in the template, each behind a condition that is false with FastLane=false.
        assert translated["Resources"][logical_id]["Condition"] in (
            "FastLaneOn",
            "Ec2FastLane",
            "EcsFastLane",
        )


def test_fast_lane_parameter_defaults_to_on() -> None:
    parameters = emulator.load_template()["Parameters"]
    assert parameters["FastLane"]["Default"] == "true"
    assert parameters["MaxLookbackMinutes"]["Default"] == DEFAULT_MAX_LOOKBACK_MINUTES
    assert parameters["SloGuardShare"]["Default"] == DEFAULT_SHARE


def test_tuner_and_publisher_get_their_new_settings(resources: dict[str, Any]) -> None:
    tuner = resources["TargetTunerFunction"]["Properties"]["Environment"]["Variables"]
    assert tuner["MAX_LOOKBACK_MINUTES"] == {"Ref": "MaxLookbackMinutes"}
    assert tuner["SLO_GUARD_SHARE"] == {"Ref": "SloGuardShare"}
    assert tuner["QUEUE_NAME"]["Fn::If"][:2] == ["CreateQueue", {"Fn::GetAtt": ["WorkQueue", "QueueName"]}]
    publisher = resources["MetricPublisherFunction"]["Properties"]["Environment"]["Variables"]
    assert publisher["SCALING_POLICY_NAME"] == tuner["SCALING_POLICY_NAME"]
