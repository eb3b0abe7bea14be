"""What moto's CloudFormation skips (policies, alarms, queue policy), as the emulator created them from
the translated template, read back through the service APIs."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from qas import emulator
from qas.demo.stack import fast_lane_steps
from queue_autoscaler.scaling.policy_spec import POLICY
from tests.template.conftest import aws

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(f"ignore:{emulator.SKIPPED_WARNING}")]

FLEET_DIMENSION = "FleetName"


def _alarm(stack: emulator.DeployedStack, logical_id: str) -> dict[str, Any]:
    assert stack.scaling is not None
    name = stack.scaling.alarms[logical_id].name
    (alarm,) = aws(stack, "cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return dict(alarm)


def _policies(stack: emulator.DeployedStack) -> dict[str, dict[str, Any]]:
    """Policy ARN -> the policy as the scaling service describes it."""
    fleet = stack.outputs["FleetName"]
    if stack.platform == "EC2":
        described = aws(stack, "autoscaling").describe_policies(AutoScalingGroupName=fleet)["ScalingPolicies"]
        return {policy["PolicyARN"]: policy for policy in described}
    described = aws(stack, "application-autoscaling").describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=f"service/{stack.outputs['ClusterName']}/{fleet}"
    )["ScalingPolicies"]
    return {policy["PolicyARN"]: policy for policy in described}


def _step_config(stack: emulator.DeployedStack, policy: dict[str, Any]) -> dict[str, Any]:
    return policy if stack.platform == "EC2" else policy["StepScalingPolicyConfiguration"]


def _queries(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {query["Id"]: query for query in alarm["Metrics"]}


def _fleet_metric(query: dict[str, Any], stack: emulator.DeployedStack) -> tuple[str, str]:
    metric = query["MetricStat"]["Metric"]
    assert metric["Namespace"] == "QueueAutoscaler"
    assert metric["Dimensions"] == [{"Name": FLEET_DIMENSION, "Value": stack.outputs["FleetName"]}]
    assert query["MetricStat"]["Period"] == 60
    return metric["MetricName"], query["MetricStat"]["Stat"]


def test_target_tracking_on_backlog_per_instance(stack: emulator.DeployedStack) -> None:
    (tracking,) = [p for p in _policies(stack).values() if p["PolicyType"] == "TargetTrackingScaling"]
    assert tracking["PolicyName"] == stack.outputs["ScalingPolicyName"]
    key = (
        "TargetTrackingConfiguration"
        if stack.platform == "EC2"
        else "TargetTrackingScalingPolicyConfiguration"
    )
    config = tracking[key]
    assert config["TargetValue"] == 30.0  # InitialTarget
    assert config.get("DisableScaleIn", False) is False
    metric = config["CustomizedMetricSpecification"]
    assert (metric["Namespace"], metric["MetricName"], metric["Statistic"]) == (
        "QueueAutoscaler",
        "BacklogPerInstance",
        "Average",
    )
    assert metric["Dimensions"] == [{"Name": FLEET_DIMENSION, "Value": stack.outputs["FleetName"]}]
    assert "Period" not in metric  # 60 s unless high resolution (EC2)
    if stack.platform == "ECS":
        assert (config["ScaleOutCooldown"], config["ScaleInCooldown"]) == (60, 300)


def test_bootstrap_alarm_starts_capacity_for_the_waiting_work_when_nothing_is_desired(
    stack: emulator.DeployedStack,
) -> None:
    alarm = _alarm(stack, "BootstrapAlarm")
    queries = _queries(alarm)
    # Instances' worth of visible work (visible / InitialTarget), only while nothing is desired.
    initial_target = stack.parameters["InitialTarget"]
    assert queries["bootstrap"]["Expression"] == f"IF(desired == 0, visible / {initial_target}, 0)"
    assert queries["bootstrap"]["ReturnData"] is True
    # Keyed on DESIRED capacity so that it stops re-firing once capacity was asked for.
    assert _fleet_metric(queries["visible"], stack) == ("VisibleMessages", "Maximum")
    assert _fleet_metric(queries["desired"], stack) == ("DesiredCapacity", "Maximum")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0.0)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    assert alarm["TreatMissingData"] == "notBreaching"

    (action,) = alarm["AlarmActions"]
    policy = _policies(stack)[action]
    config = _step_config(stack, policy)
    assert policy["PolicyType"] == "StepScaling"
    assert config["AdjustmentType"] == "ExactCapacity"
    # The spec's steps, as the scaling service stores them (test_policy_spec.py checks the template).
    steps = config["StepAdjustments"]
    assert [(s["MetricIntervalLowerBound"], s["ScalingAdjustment"]) for s in steps] == list(
        POLICY.bootstrap_steps
    )
    # Contiguous intervals: no gap and no overlap, as the APIs require.
    pairs = itertools.pairwise(steps)
    assert all(a["MetricIntervalUpperBound"] == b["MetricIntervalLowerBound"] for a, b in pairs)


def test_shutdown_alarm_waits_for_an_empty_queue(stack: emulator.DeployedStack) -> None:
    alarm = _alarm(stack, "ShutdownAlarm")
    queries = _queries(alarm)
    assert queries["shutdown"]["Expression"] == "IF(visible + inflight == 0 AND desired > 0, 1, 0)"
    assert _fleet_metric(queries["visible"], stack) == ("VisibleMessages", "Maximum")
    assert _fleet_metric(queries["inflight"], stack) == ("InFlightMessages", "Maximum")
    assert _fleet_metric(queries["desired"], stack) == ("DesiredCapacity", "Maximum")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (5, 5)  # ShutdownAfterMinutes
    assert alarm["TreatMissingData"] == "notBreaching"

    (action,) = alarm["AlarmActions"]
    config = _step_config(stack, _policies(stack)[action])
    assert config["AdjustmentType"] == "ExactCapacity"
    assert config["StepAdjustments"] == [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 0}]

    # The typed view the demo hands to the control-plane model agrees with what was created.
    assert stack.scaling is not None
    typed_alarm, typed_policy = stack.scaling.shutdown
    assert typed_alarm.evaluation_periods == 5
    assert typed_policy.arn == action
    assert typed_policy.steps[0].scaling_adjustment == 0
    assert stack.scaling.bootstrap[1].steps[0].scaling_adjustment == 1
    assert (stack.scaling.min_capacity, stack.scaling.max_capacity) == (0, 10)


def test_operations_alarms_notify_the_topic(stack: emulator.DeployedStack) -> None:
    (topic_arn,) = [
        t["TopicArn"] for t in aws(stack, "sns").list_topics()["Topics"] if stack.stack_name in t["TopicArn"]
    ]
    queue_name = stack.outputs["QueueUrl"].rsplit("/", 1)[1]
    dlq_name = stack.outputs["DeadLetterQueueUrl"].rsplit("/", 1)[1]

    slo = _alarm(stack, "SloBreachAlarm")
    assert (slo["Namespace"], slo["MetricName"], slo["Statistic"]) == (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
    )
    assert slo["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    assert slo["Threshold"] == 300.0  # LatencySloSeconds
    assert slo["TreatMissingData"] == "notBreaching"  # SQS goes quiet on idle queues

    dead = _alarm(stack, "DeadLetterAlarm")
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": dlq_name}]
    assert (dead["ComparisonOperator"], dead["Threshold"]) == ("GreaterThanThreshold", 0.0)

    for logical_id, output in (
        ("PublisherErrorsAlarm", "MetricPublisherFunction"),
        ("TunerErrorsAlarm", "TargetTunerFunction"),
    ):
        errors = _alarm(stack, logical_id)
        assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
        assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": stack.outputs[output]}]

    silent = _alarm(stack, "PublisherSilentAlarm")
    assert silent["MetricName"] == "BacklogPerInstance"
    assert silent["TreatMissingData"] == "breaching"  # no data is exactly what it watches for

    for alarm in (
        slo,
        dead,
        silent,
        _alarm(stack, "PublisherErrorsAlarm"),
        _alarm(stack, "TunerErrorsAlarm"),
    ):
        assert alarm["AlarmActions"] == [topic_arn]

    attributes = aws(stack, "sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == stack.physical_ids["AlarmKey"]
    statements = json.loads(attributes["Policy"])["Statement"]
    assert {s["Sid"] for s in statements} == {"CloudWatchAlarmsPublish", "DenyInsecureTransport"}


def test_queue_policy_denies_plain_http(stack: emulator.DeployedStack) -> None:
    sqs = aws(stack, "sqs")
    for output in ("QueueUrl", "DeadLetterQueueUrl"):
        policy = sqs.get_queue_attributes(QueueUrl=stack.outputs[output], AttributeNames=["Policy"])
        (statement,) = json.loads(policy["Attributes"]["Policy"])["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert statement["Action"] == "sqs:*"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dashboard_shows_the_fleet(stack: emulator.DeployedStack) -> None:
    name = stack.outputs["DashboardUrl"].rsplit("name=", 1)[1]
    body = json.loads(aws(stack, "cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    metrics = [row for widget in body["widgets"] for row in widget["properties"]["metrics"]]
    named = {
        row[1] for row in metrics if len(row) > 1 and isinstance(row[1], str) and row[1] not in (".", "...")
    }
    assert {
        "VisibleMessages",
        "InFlightMessages",
        "BacklogPerInstance",
        "DesiredCapacity",
        "RunningCapacity",
        "TargetBacklogPerInstance",
        "MsgProcessingDuration",
        "MessageLatency",
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
    } <= named
    assert stack.outputs["FleetName"] in json.dumps(body)


def test_high_resolution_uses_ten_second_tracking_on_ec2(server: emulator.EmulatorServer) -> None:
    stack = emulator.deploy(server.endpoint, "qas-hires", {"HighResolutionMetrics": "true"}, "EC2")
    assert stack.scaling is not None
    assert stack.scaling.tracking_policy.period_s == 10
    assert stack.scaling.alarms["FastLaneAlarm"].period == 10  # one 10 s datapoint fires the fast lane
    assert stack.scaling.alarms["ScaleInLaneAlarm"].period == 60  # five minutes, not five 10 s datapoints
    (tracking,) = [p for p in _policies(stack).values() if p["PolicyType"] == "TargetTrackingScaling"]
    assert tracking["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Period"] == 10
    config = aws(stack, "lambda").get_function_configuration(
        FunctionName=stack.outputs["MetricPublisherFunction"]
    )
    assert config["Environment"]["Variables"]["HIGH_RESOLUTION"] == "true"


def test_fast_lane_alarm_triggers_the_percent_step_policy(stack: emulator.DeployedStack) -> None:
    alarm = _alarm(stack, "FastLaneAlarm")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "QueueAutoscaler",
        "ScaleOutPressure",
        "Maximum",
    )
    assert alarm["Dimensions"] == [{"Name": FLEET_DIMENSION, "Value": stack.outputs["FleetName"]}]
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 1, 1)
    (action,) = alarm["AlarmActions"]
    policy = _policies(stack)[action]
    config = _step_config(stack, policy)
    assert policy["PolicyType"] == "StepScaling"
    assert (config["AdjustmentType"], config["MinAdjustmentMagnitude"]) == ("PercentChangeInCapacity", 1)
    assert [s["ScalingAdjustment"] for s in config["StepAdjustments"]] == [
        round(share * 100) for _, share in POLICY.fast_lane_steps
    ]
    # The demo hands the deployed steps to the control-plane model: exactly the simulator's.
    assert stack.scaling is not None
    assert fast_lane_steps(stack.scaling) == POLICY.fast_lane_steps


def test_tuner_reads_the_age_of_the_stacks_own_queue(stack: emulator.DeployedStack) -> None:
    config = aws(stack, "lambda").get_function_configuration(
        FunctionName=stack.outputs["TargetTunerFunction"]
    )
    env = config["Environment"]["Variables"]
    assert env["QUEUE_NAME"] == stack.outputs["QueueUrl"].rsplit("/", 1)[1]
    assert (str(env["MAX_LOOKBACK_MINUTES"]), str(env["SLO_GUARD_SHARE"])) == ("120", "0.5")
