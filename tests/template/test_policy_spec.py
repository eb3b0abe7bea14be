"""template.yaml held equal to the policy spec: every value of the scaling policy the template writes,
read from the SAM-translated template (both platforms' resources are in it, each behind its condition)
and compared with `queue_autoscaler.scaling.policy_spec.POLICY` (and each alarm's TreatMissingData
with the control-plane model's `TREAT_MISSING`). A failure lists every differing value as
"Resource.Property: template X != spec Y": change the one the spec or the template got wrong
(docs/architecture.md, "Change the policy")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest

from qas import emulator
from qas.model.control_plane import TREAT_MISSING, AlarmName
from queue_autoscaler.scaling.policy_spec import POLICY, PolicySpec
from tests.template.conftest import FLEET_NAME

NAMESPACE = {"Ref": "MetricNamespace"}
FLEET = [{"Name": "FleetName", "Value": FLEET_NAME}]
NO_VALUE = {"Ref": "AWS::NoValue"}


def _bound(value: float) -> float:
    # Bounds and percentages are decimals in the template; the spec's differences are binary floats.
    return round(value, 6)


def bootstrap_steps(spec: PolicySpec) -> list[dict[str, float]]:
    """ExactCapacity steps on visible / InitialTarget: each up to the next one's lower bound."""
    steps: list[dict[str, float]] = []
    for index, (lower, capacity) in enumerate(spec.bootstrap_steps):
        step = {"MetricIntervalLowerBound": lower, "ScalingAdjustment": capacity}
        if index + 1 < len(spec.bootstrap_steps):
            step["MetricIntervalUpperBound"] = spec.bootstrap_steps[index + 1][0]
        steps.append(step)
    return steps


def fast_lane_steps(spec: PolicySpec) -> list[dict[str, float]]:
    """Percent steps, bounds relative to the alarm's threshold (the lowest step), the last one open."""
    steps: list[dict[str, float]] = []
    pressures = [pressure for pressure, _ in spec.fast_lane_steps]
    for index, (pressure, share) in enumerate(spec.fast_lane_steps):
        step = {
            "MetricIntervalLowerBound": _bound(pressure - spec.fast_lane_threshold),
            "ScalingAdjustment": _bound(share * 100),
        }
        if index + 1 < len(pressures):
            step["MetricIntervalUpperBound"] = _bound(pressures[index + 1] - spec.fast_lane_threshold)
        steps.append(step)
    return steps


def scale_in_lane_steps(spec: PolicySpec) -> list[dict[str, float]]:
    """Negative percent steps below the threshold (the highest step), from the threshold down, the
    lowest one open below."""
    steps: list[dict[str, float]] = []
    rising = list(spec.scale_in_lane_steps)
    for index in reversed(range(len(rising))):
        upper, removed = rising[index]
        step = {
            "MetricIntervalUpperBound": _bound(upper - spec.scale_in_lane_threshold),
            "ScalingAdjustment": -removed,
        }
        if index > 0:
            step["MetricIntervalLowerBound"] = _bound(rising[index - 1][0] - spec.scale_in_lane_threshold)
        steps.append(step)
    return steps


def step_policies(spec: PolicySpec) -> dict[str, dict[str, Any]]:
    """Each step policy's configuration, by its role."""
    return {
        "Bootstrap": {
            "AdjustmentType": "ExactCapacity",
            "MetricAggregationType": "Maximum",
            "StepAdjustments": bootstrap_steps(spec),
        },
        "Shutdown": {
            "AdjustmentType": "ExactCapacity",
            "MetricAggregationType": "Maximum",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 0}],
        },
        "FastLane": {
            "AdjustmentType": "PercentChangeInCapacity",
            "MinAdjustmentMagnitude": 1,
            "MetricAggregationType": "Maximum",
            "StepAdjustments": fast_lane_steps(spec),
        },
        # AWS rounds a negative result between 0 and -1 to -1: no MinAdjustmentMagnitude.
        "ScaleInLane": {
            "AdjustmentType": "PercentChangeInCapacity",
            "MetricAggregationType": "Maximum",
            "StepAdjustments": scale_in_lane_steps(spec),
        },
    }


def _query(name: str, period: int) -> dict[str, Any]:
    return {
        "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": FLEET},
        "Period": period,
        "Stat": "Maximum",
    }


def expected(spec: PolicySpec) -> Iterator[tuple[str, Any]]:
    """(resource.property path, the value the spec asks for)."""
    names = spec.metrics
    for role, config in step_policies(spec).items():
        for key, value in config.items():
            yield f"Ec2{role}Policy.{key}", value
            yield f"Ecs{role}Policy.StepScalingPolicyConfiguration.{key}", value
        yield f"Ec2{role}Policy.Cooldown", None  # EC2 step policies have none
        yield f"Ecs{role}Policy.StepScalingPolicyConfiguration.Cooldown", spec.ecs_step_cooldown_s
    tracking = {
        "Namespace": NAMESPACE,
        "MetricName": names.backlog_per_instance,
        "Dimensions": FLEET,
        "Statistic": "Average",
    }
    for key, value in tracking.items():
        yield f"Ec2TrackingPolicy.TargetTrackingConfiguration.CustomizedMetricSpecification.{key}", value
        yield (
            f"EcsTrackingPolicy.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification.{key}",
            value,
        )
    high_resolution = {"Fn::If": ["HighResolution", spec.high_resolution_period_s, NO_VALUE]}
    yield (
        "Ec2TrackingPolicy.TargetTrackingConfiguration.CustomizedMetricSpecification.Period",
        high_resolution,
    )
    ecs = "EcsTrackingPolicy.TargetTrackingScalingPolicyConfiguration"
    yield f"{ecs}.ScaleOutCooldown", spec.ecs_scale_out_cooldown_s
    yield f"{ecs}.ScaleInCooldown", spec.ecs_scale_in_cooldown_s
    yield "WorkerGroup.DefaultInstanceWarmup", spec.ec2_instance_warmup_s
    yield "Parameters.ShutdownAfterMinutes.Default", spec.shutdown_after_minutes
    yield "Parameters.KeepWarmMinutes.Default", spec.keep_warm_minutes

    bootstrap = {
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0,
        "EvaluationPeriods": spec.bootstrap_datapoints,
        "DatapointsToAlarm": spec.bootstrap_datapoints,
        "TreatMissingData": TREAT_MISSING[AlarmName.BOOTSTRAP],
        "Metrics.peers.MetricStat": _query(names.peer_running, spec.step_alarm_period_s),
        "Metrics.visible.MetricStat": _query(names.visible, spec.step_alarm_period_s),
        "Metrics.desired.MetricStat": _query(names.desired, spec.step_alarm_period_s),
    }
    shutdown = {
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0,
        "TreatMissingData": TREAT_MISSING[AlarmName.SHUTDOWN],
        "Metrics.visible.MetricStat": _query(names.visible, spec.step_alarm_period_s),
        "Metrics.inflight.MetricStat": _query(names.in_flight, spec.step_alarm_period_s),
        "Metrics.desired.MetricStat": _query(names.desired, spec.step_alarm_period_s),
    }
    lane_alarm = {
        "Namespace": NAMESPACE,
        "Dimensions": FLEET,
        "Statistic": "Maximum",
    }
    fast_lane = lane_alarm | {
        "MetricName": names.scale_out_pressure,
        "Period": {"Fn::If": ["HighResolution", spec.high_resolution_period_s, spec.period_s]},
        "EvaluationPeriods": spec.fast_lane_datapoints,
        "DatapointsToAlarm": spec.fast_lane_datapoints,
        "Threshold": spec.fast_lane_threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": TREAT_MISSING[AlarmName.FAST_LANE],
    }
    scale_in_lane = lane_alarm | {
        "MetricName": names.scale_in_pressure,
        "Period": spec.step_alarm_period_s,
        "EvaluationPeriods": spec.scale_in_lane_datapoints,
        "DatapointsToAlarm": spec.scale_in_lane_datapoints,
        "Threshold": spec.scale_in_lane_threshold,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": TREAT_MISSING[AlarmName.SCALE_IN_LANE],
    }
    for alarm, properties in (
        ("BootstrapAlarm", bootstrap),
        ("ShutdownAlarm", shutdown),
        ("FastLaneAlarm", fast_lane),
        ("ScaleInLaneAlarm", scale_in_lane),
    ):
        for key, value in properties.items():
            yield f"{alarm}.{key}", value
    yield "PublisherSilentAlarm.MetricName", names.backlog_per_instance


def _lookup(template: dict[str, Any], path: str) -> Any:
    """A value by path: Parameters.X.Y, or Resource.Property...; ``Metrics.<Id>`` picks an alarm's
    query by its Id (inside an Fn::If, its true branch). None when absent."""
    parts = path.split(".")
    node: Any = (
        template["Parameters"] if parts[0] == "Parameters" else template["Resources"][parts[0]]["Properties"]
    )
    parts = parts[1:]
    while parts:
        key, *parts = parts
        if key == "Metrics":
            query_id, *parts = parts
            queries = [q["Fn::If"][1] if "Fn::If" in q else q for q in node["Metrics"]]
            node = next(q for q in queries if q["Id"] == query_id)
            continue
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def mismatches(template: dict[str, Any], spec: PolicySpec) -> list[str]:
    return [
        f"{path}: template {_lookup(template, path)!r} != spec {value!r}"
        for path, value in expected(spec)
        if _lookup(template, path) != value
    ]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return emulator.translate(parameters={})


def test_the_template_writes_the_policy_spec(template: dict[str, Any]) -> None:
    found = mismatches(template, POLICY)
    assert not found, "template.yaml differs from the policy spec:\n" + "\n".join(found)


def test_a_changed_step_is_named_with_the_resources_that_disagree(template: dict[str, Any]) -> None:
    # The comparison points at the values: one lane step moved in the spec shows up on both platforms.
    moved = PolicySpec(scale_in_lane_steps=((0.25, 75), (0.5, 50), (0.75, 30), (0.9, 10)))
    assert mismatches(template, moved) == [
        f"{policy}.StepAdjustments: template {actual!r} != spec {wanted!r}"
        for policy, actual, wanted in (
            (
                "Ec2ScaleInLanePolicy",
                _lookup(template, "Ec2ScaleInLanePolicy.StepAdjustments"),
                scale_in_lane_steps(moved),
            ),
            (
                "EcsScaleInLanePolicy.StepScalingPolicyConfiguration",
                _lookup(template, "EcsScaleInLanePolicy.StepScalingPolicyConfiguration.StepAdjustments"),
                scale_in_lane_steps(moved),
            ),
        )
    ]
    assert scale_in_lane_steps(moved)[1]["ScalingAdjustment"] == -30


def test_the_dashboard_names_the_specs_metrics_and_thresholds(template: dict[str, Any]) -> None:
    body_template = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "0", body_template))  # placeholders: strings and one number
    rows = [row for widget in body["widgets"] for row in widget["properties"]["metrics"]]
    ours = {row[1] for row in rows if row[0] in ("0", ".") and isinstance(row[1], str) and row[1] != "."}
    assert ours <= set(asdict(POLICY.metrics).values())
    annotations = [
        a for w in body["widgets"] for a in w["properties"].get("annotations", {}).get("horizontal", [])
    ]
    assert {"label": "fast lane", "value": POLICY.fast_lane_threshold} in annotations
    assert {"label": "scale-in lane", "value": POLICY.scale_in_lane_threshold} in annotations


def test_the_lane_parameters_describe_the_specs_steps(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert f"above {POLICY.fast_lane_threshold:g}" in parameters["FastLane"]["Description"]
    highest_first = list(reversed(POLICY.scale_in_lane_steps))
    removed = "/".join(str(percent) for _, percent in highest_first) + "%"
    below = "below " + "/".join(f"{pressure:g}" for pressure, _ in highest_first)
    description = parameters["ScaleInLane"]["Description"]
    assert removed in description and below in description, description
