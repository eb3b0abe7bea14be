"""The fast lane and the tuner's new settings in the SAM-translated template: FastLane=false (or a FIFO
queue) removes it. Its steps and alarm are held equal to the policy spec by test_policy_spec.py."""

from __future__ import annotations

from typing import Any

import pytest

from qas import emulator
from queue_autoscaler.scaling.slo_guard import DEFAULT_SHARE
from queue_autoscaler.scaling.tuning import DEFAULT_MAX_LOOKBACK_MINUTES

FAST_LANE_RESOURCES = {"FastLaneAlarm", "Ec2FastLanePolicy", "EcsFastLanePolicy"}


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
