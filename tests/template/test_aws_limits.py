"""Limits AWS enforces that moto does not: the template's alarms, step policies and parameter ranges stay
inside them, checked on the translated template at the parameters' extremes (docs/aws-behaviour.md)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from qas import emulator
from queue_autoscaler.common.settings import ConfigError, load_settings
from queue_autoscaler.target_tuner.app import MAX_SETTLED_WINDOW_MINUTES
from queue_autoscaler.target_tuner.settings import TunerSettings
from tests.template.conftest import resolved
from worker.settings import MAX_VISIBILITY_SECONDS

# docs/aws-behaviour.md#cw-alarm-limits
MAX_EVALUATION_SECONDS = 86_400
MAX_ALARM_MATH_METRICS = 10
HIGH_RESOLUTION_PERIODS = (10, 30)
# docs/aws-behaviour.md#sqs-in-flight-quota (standard and FIFO)
SQS_IN_FLIGHT_QUOTA = 120_000
# docs/aws-behaviour.md#cw-get-metric-statistics-limits and #cw-get-metric-data-limits
GET_METRIC_STATISTICS_MAX_DATAPOINTS = 1_440
GET_METRIC_DATA_DEFAULT_MAX_DATAPOINTS = 100_800

PARAMETERS = emulator.load_template()["Parameters"]
EXTRA_QUEUES = ",".join(f"arn:aws:sqs:us-east-1:123456789012:extra-{n}" for n in range(3))


def _max(name: str) -> str:
    return str(PARAMETERS[name]["MaxValue"])


# Every alarm and policy shape the template can take: both platforms, 10 s tracking, the most metrics
# an alarm can query (three extra queues, peers), and the longest shutdown windows.
VARIANTS = [
    pytest.param({"WorkerPlatform": "EC2"}, id="ec2"),
    pytest.param(
        {
            "WorkerPlatform": "EC2",
            "HighResolutionMetrics": "true",
            "ExtraQueueArns": EXTRA_QUEUES,
            "PeerFleets": "blue-workers",
            "KeepWarm": "true",
            "KeepWarmMinutes": _max("KeepWarmMinutes"),
        },
        id="ec2-high-resolution-extra-queues-peers-longest-keep-warm",
    ),
    pytest.param(
        {"WorkerPlatform": "ECS", "ShutdownAfterMinutes": _max("ShutdownAfterMinutes")},
        id="ecs-longest-shutdown",
    ),
    pytest.param(
        {"WorkerPlatform": "ECS", "QueueType": "FIFO", "PeerFleets": "blue-workers"}, id="ecs-fifo-peers"
    ),
]


def _active(parameters: dict[str, str], resource_type: str) -> dict[str, dict[str, Any]]:
    """Resolved properties of the resources of this type CloudFormation creates with these parameters."""
    translated, resolver = resolved(parameters)
    return {
        logical_id: resolver.resolve(resource["Properties"])
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == resource_type
        and ("Condition" not in resource or resolver.condition(resource["Condition"]))
    }


@pytest.mark.parametrize("parameters", VARIANTS)
def test_every_alarm_fits_cloudwatch_evaluation_rules(parameters: dict[str, str]) -> None:
    alarms = _active(parameters, "AWS::CloudWatch::Alarm")
    assert {"BootstrapAlarm", "ShutdownAlarm", "SloBreachAlarm"} <= alarms.keys()
    for logical_id, alarm in alarms.items():
        evaluation_periods = int(alarm["EvaluationPeriods"])
        assert 1 <= int(alarm.get("DatapointsToAlarm", evaluation_periods)) <= evaluation_periods, logical_id
        stats = [query["MetricStat"] for query in alarm.get("Metrics", []) if "MetricStat" in query]
        assert len(stats) <= MAX_ALARM_MATH_METRICS, logical_id
        periods = {int(stat["Period"]) for stat in stats} if stats else {int(alarm["Period"])}
        assert len(periods) == 1, f"{logical_id}: metric math over different periods {periods}"
        (period,) = periods
        if period in HIGH_RESOLUTION_PERIODS:
            # Only a custom metric published with StorageResolution 1 has sub-minute data.
            assert not str(alarm.get("Namespace", "")).startswith("AWS/"), logical_id
        else:
            assert period % 60 == 0, f"{logical_id}: period {period}"
        assert evaluation_periods * period <= MAX_EVALUATION_SECONDS, logical_id


def _bound(step: dict[str, Any], key: str) -> float | None:
    return float(step[key]) if key in step else None


@pytest.mark.parametrize("parameters", VARIANTS)
def test_step_adjustments_follow_the_aws_interval_rules(parameters: dict[str, str]) -> None:
    step_policies = {
        logical_id: policy.get("StepAdjustments")
        or policy["StepScalingPolicyConfiguration"]["StepAdjustments"]
        for resource_type in ("AWS::AutoScaling::ScalingPolicy", "AWS::ApplicationAutoScaling::ScalingPolicy")
        for logical_id, policy in _active(parameters, resource_type).items()
        if policy["PolicyType"] == "StepScaling"
    }
    assert len(step_policies) >= 2  # at least the bootstrap and the shutdown policies
    for logical_id, steps in step_policies.items():
        intervals = [
            (_bound(step, "MetricIntervalLowerBound"), _bound(step, "MetricIntervalUpperBound"))
            for step in steps
        ]
        lowers = [lower for lower, _ in intervals]
        uppers = [upper for _, upper in intervals]
        assert all(lower is not None or upper is not None for lower, upper in intervals), logical_id
        assert lowers.count(None) <= 1 and uppers.count(None) <= 1, logical_id
        if any(lower is not None and lower < 0 for lower in lowers):
            assert None in lowers, f"{logical_id}: a negative lower bound needs an open-ended lowest step"
        if any(upper is not None and upper > 0 for upper in uppers):
            assert None in uppers, f"{logical_id}: a positive upper bound needs an open-ended highest step"
        ordered = sorted(
            intervals, key=lambda interval: -float("inf") if interval[0] is None else interval[0]
        )
        for (_, upper), (lower, _) in itertools.pairwise(ordered):
            assert upper is not None and upper == lower, f"{logical_id}: gap or overlap at {upper} / {lower}"


def test_parameter_ranges_stay_inside_aws_quotas() -> None:
    # The most messages the fleet can hold in flight at once stays under SQS's in-flight quota.
    assert int(_max("MaxCapacity")) * int(_max("WorkerConcurrency")) <= SQS_IN_FLIGHT_QUOTA
    assert int(_max("WorkerVisibilityTimeout")) <= MAX_VISIBILITY_SECONDS
    # The tuner's widest window is read at 60 s periods in one GetMetricStatistics call.
    assert int(_max("MaxLookbackMinutes")) <= GET_METRIC_STATISTICS_MAX_DATAPOINTS
    tuner = {
        "FLEET_PLATFORM": "EC2",
        "FLEET_NAME": "w",
        "SCALING_POLICY_NAME": "p",
        "LATENCY_SLO_SECONDS": "60",
    }
    widest = str(GET_METRIC_STATISTICS_MAX_DATAPOINTS)
    assert (
        load_settings(TunerSettings, {**tuner, "MAX_LOOKBACK_MINUTES": widest}).max_lookback_minutes == 1440
    )
    for variable in ("MAX_LOOKBACK_MINUTES", "LOOKBACK_MINUTES"):
        with pytest.raises(ConfigError, match=variable):
            load_settings(TunerSettings, {**tuner, variable: str(GET_METRIC_STATISTICS_MAX_DATAPOINTS + 1)})
    # settled_minutes asks for two one-minute series in one GetMetricData request.
    assert 2 * MAX_SETTLED_WINDOW_MINUTES <= GET_METRIC_DATA_DEFAULT_MAX_DATAPOINTS
