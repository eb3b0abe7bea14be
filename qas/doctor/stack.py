"""`qas doctor stack`: why a deployed stack does (not) scale: alarms, metrics, tuner, DLQ, failed starts,
rollouts that do not finish."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from qas.doctor.findings import Finding, note, ok, problem
from qas.doctor.rollout import check_rollout
from qas.doctor.starts import DEFAULT_BOOT_TIMEOUT_S, check_failed_starts
from qas.doctor.warm_pool import check_stack as check_warm_pool
from queue_autoscaler.adapters.fleet import TargetPolicy
from queue_autoscaler.adapters.metrics import FleetMetrics
from queue_autoscaler.common.platform import Platform
from queue_autoscaler.platforms import platform_of
from queue_autoscaler.scaling.policy_spec import METRICS

PUBLISHER_STALE_S = 180  # three missed one-minute runs
TAIL_WINDOW_MINUTES = 60
TAIL_BUDGET_SHARE = 0.1  # a p99 within a tenth of the SLO leaves the target no queue to plan
TUNER_DECISIONS = ("target updated", "target kept", "dry run: would update target")
# What an operations alarm in ALARM means and where to look; keyed by the alarm name's suffix.
ALARM_MEANINGS = {
    "slo-breach": (
        "the oldest message has waited longer than LatencySloSeconds",
        "raise MaxCapacity, or see the failed starts below",
    ),
    "dead-letters": ("messages failed MaxReceiveCount times", "see the dead-letter queue finding"),
    "publisher-errors": (
        "the metric publisher fails; scaling runs on stale data",
        "aws logs tail {logs}-metric-publisher --since 30m",
    ),
    "tuner-errors": (
        "the target tuner fails; the target stays where it was",
        "aws logs tail {logs}-target-tuner --since 2h",
    ),
    "publisher-silent": (
        "no BacklogPerInstance for 5 minutes: target tracking is blind",
        "aws events describe-rule --name {stack}-metric-publisher; aws logs tail {logs}-metric-publisher",
    ),
}
# The name prefix of the alarms AWS creates for a target-tracking policy: its resource's id, by platform
# (tests/architecture/test_platform_seam.py: every platform has one).
TRACKING_ALARM_PREFIX: dict[Platform, Callable[[str, str], str]] = {
    Platform.EC2: lambda cluster, fleet: f"TargetTracking-{fleet}",
    Platform.ECS: lambda cluster, fleet: f"TargetTracking-service/{cluster}/{fleet}",
}
INSUFFICIENT = (
    "INSUFFICIENT_DATA: no datapoints in its period. Normal in the minutes after a deploy; AWS/SQS metrics"
    " also stop for a queue idle over 6 hours. Lasting on a target-tracking alarm, the publisher is not"
    " publishing (see the publisher finding)"
)


@dataclass(frozen=True)
class Stack:
    name: str
    created: datetime
    outputs: dict[str, str]
    parameters: dict[str, str]

    @property
    def platform(self) -> str:
        return self.parameters.get("WorkerPlatform", "EC2")

    @property
    def fleet(self) -> str:
        return self.outputs.get("FleetName", f"{self.name}-workers")

    @property
    def namespace(self) -> str:
        return self.parameters.get("MetricNamespace", "QueueAutoscaler")


def run(session: Any, stack_name: str, now: datetime | None = None) -> list[Finding]:
    now = now or datetime.now(UTC)
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as err:
        return [problem("stack", f"{stack_name}: {err}", "check the name, --region and --profile")]
    status = described["StackStatus"]
    stack = Stack(
        name=stack_name,
        created=described.get("LastUpdatedTime") or described["CreationTime"],
        outputs={item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])},
        parameters={
            item["ParameterKey"]: item.get("ParameterValue", "") for item in described.get("Parameters", [])
        },
    )
    boot_timeout_s = float(stack.parameters.get("WorkerBootTimeoutSeconds", DEFAULT_BOOT_TIMEOUT_S))
    findings = []
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        reason = described.get("StackStatusReason", "")
        findings.append(
            problem(
                "stack",
                f"{stack_name} is {status} {reason}".strip(),
                f"aws cloudformation describe-stack-events --stack-name {stack_name}",
            )
        )
    else:
        findings.append(ok("stack", f"{stack_name} is {status}"))
    checks: list[Callable[[], list[Finding]]] = [
        lambda: check_alarms(session.client("cloudwatch"), stack),
        lambda: [check_publisher(session.client("cloudwatch"), stack, now)],
        lambda: [check_durations(session.client("cloudwatch"), stack, now)],
        lambda: [check_tail(session.client("cloudwatch"), stack, now)],
        lambda: [check_tuner(session.client("logs"), stack, now)],
        lambda: [check_target(session, stack)],
        lambda: [check_dead_letters(session.client("sqs"), stack)],
        lambda: check_failed_starts(
            session,
            stack.platform,
            stack.fleet,
            stack.outputs.get("ClusterName", ""),
            now=now,
            boot_timeout_s=boot_timeout_s,
        ),
        lambda: [
            check_rollout(
                session,
                platform=stack.platform,
                stack_name=stack.name,
                fleet=stack.fleet,
                cluster=stack.outputs.get("ClusterName", ""),
                now=now,
            )
        ],
        lambda: check_warm_pool(
            session, stack.parameters, stack.fleet, now=now, boot_timeout_s=boot_timeout_s
        ),
    ]
    for check in checks:
        try:
            findings += check()
        except ClientError as err:  # one unreadable part (permissions) must not hide the others
            findings.append(note("read", f"could not read: {err}", "run with a role that may read it"))
    return findings


def check_alarms(cloudwatch: Any, stack: Stack) -> list[Finding]:
    tracking = TRACKING_ALARM_PREFIX[Platform(stack.platform)](
        stack.outputs.get("ClusterName", ""), stack.fleet
    )
    prefixes = [f"{stack.name}-", tracking]
    alarms = [
        alarm
        for prefix in prefixes
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix)
        for alarm in page["MetricAlarms"]
    ]
    if not alarms:
        return [
            problem("alarms", "the stack has no alarms", "is the stack name right? (sam list stack-outputs)")
        ]
    findings = []
    logs = f"/aws/lambda/{stack.name}"
    for alarm in alarms:
        name, state = alarm["AlarmName"], alarm["StateValue"]
        kind = name.removeprefix(f"{stack.name}-")
        if state == "INSUFFICIENT_DATA":
            findings.append(note("alarms", f"{name} is {INSUFFICIENT}"))
        elif state == "ALARM" and kind in ALARM_MEANINGS:
            meaning, fix = ALARM_MEANINGS[kind]
            findings.append(
                problem("alarms", f"{name} is in ALARM: {meaning}", fix.format(logs=logs, stack=stack.name))
            )
        elif state == "ALARM":  # bootstrap, shutdown, target tracking: a scaling action, not a fault
            findings.append(note("alarms", f"{name} is in ALARM: it is scaling the fleet"))
    ok_count = sum(1 for alarm in alarms if alarm["StateValue"] == "OK")
    findings.append(ok("alarms", f"{ok_count} of {len(alarms)} alarms are OK"))
    return findings


def _datapoints(
    cloudwatch: Any, stack: Stack, metric: str, since: timedelta, *, now: datetime, stat: str
) -> list[Any]:
    response = cloudwatch.get_metric_statistics(
        Namespace=stack.namespace,
        MetricName=metric,
        Dimensions=[{"Name": "FleetName", "Value": stack.fleet}],
        StartTime=now - since,
        EndTime=now,
        Period=60,
        Statistics=[stat],
    )
    return sorted(response["Datapoints"], key=lambda point: point["Timestamp"])


def check_publisher(cloudwatch: Any, stack: Stack, now: datetime) -> Finding:
    points = _datapoints(
        cloudwatch, stack, METRICS.backlog_per_instance, timedelta(minutes=15), now=now, stat="SampleCount"
    )
    logs = f"aws logs tail /aws/lambda/{stack.name}-metric-publisher --since 30m"
    if not points:
        return problem("publisher", "no BacklogPerInstance in the last 15 minutes: scaling is blind", logs)
    age = (now - points[-1]["Timestamp"]).total_seconds()
    if age > PUBLISHER_STALE_S:
        return problem("publisher", f"the last BacklogPerInstance datapoint is {age:.0f} s old", logs)
    return ok("publisher", f"the last BacklogPerInstance datapoint is {age:.0f} s old")


def check_durations(cloudwatch: Any, stack: Stack, now: datetime) -> Finding:
    hour = timedelta(hours=1)
    if _datapoints(cloudwatch, stack, METRICS.processing_duration, hour, now=now, stat="SampleCount"):
        return ok("durations", "workers publish MsgProcessingDuration")
    ran = any(
        p["Maximum"] > 0
        for p in _datapoints(cloudwatch, stack, METRICS.running, hour, now=now, stat="Maximum")
    )
    if ran:
        return problem(
            "durations",
            "workers ran in the last hour but published no MsgProcessingDuration: the tuner cannot tune",
            f"check the worker log group /queue-autoscaler/{stack.name}/workers and METRIC_NAMESPACE",
        )
    return note("durations", "no worker ran in the last hour, so no MsgProcessingDuration yet")


def check_tail(cloudwatch: Any, stack: Stack, now: datetime) -> Finding:
    """The p99 of MsgProcessingDuration over the last hour against LatencySloSeconds, read by the
    tuner's own adapter (docs/aws-behaviour.md#cw-percentiles-need-values)."""
    metrics = FleetMetrics(stack.namespace, stack.fleet, client=cloudwatch)
    stats = metrics.duration_stats(now, TAIL_WINDOW_MINUTES, "p99")
    slo = float(stack.parameters.get("LatencySloSeconds", "0") or 0)
    lead = float(stack.parameters.get("CapacityLeadSeconds", "0") or 0)
    return tail_finding(stats.tail_s if stats is not None else None, slo, lead)


def tail_finding(p99_s: float | None, slo_s: float, lead_s: float) -> Finding:
    """A p99 that leaves almost nothing of the SLO to wait in takes the tuner's target down to its
    floor (scaling.target: the waiting budget is ``slo - tail``): the fleet then scales out for nearly
    every queued message, and the jobs at the tail miss whatever it does (docs/bound-gaps.md, d1, d7)."""
    if p99_s is None or slo_s <= 0:
        return note("tail", "no p99 of MsgProcessingDuration in the last hour (no job ran, or no percentile)")
    budget = slo_s - p99_s
    if budget < TAIL_BUDGET_SHARE * slo_s:
        return note(
            "tail",
            f"p99 processing time {p99_s:.0f} s leaves {max(budget, 0.0):.0f} s of LatencySloSeconds "
            f"{slo_s:g} to wait in: the tuner's target plans little or no queue, so the fleet scales out"
            " for nearly every queued message, while the longest jobs miss the SLO whatever it does",
            f"LatencySloSeconds above {math.ceil(p99_s + lead_s)} (p99 + CapacityLeadSeconds), or the long"
            " jobs on their own queue (qas plan --trace; docs/fifo-and-multi-queue.md)",
        )
    return ok(
        "tail", f"p99 processing time {p99_s:.0f} s leaves {budget:.0f} s of the {slo_s:g}-s SLO to wait in"
    )


def _tuner_events(logs: Any, group: str) -> list[dict[str, Any]]:
    streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True, limit=5)
    decisions = []
    for stream in streams["logStreams"]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], limit=200)
        for event in events["events"]:
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue  # START/END/REPORT lines of the runtime
            if isinstance(record, dict) and record.get("message") in TUNER_DECISIONS:
                decisions.append({**record, "_ts": event["timestamp"]})
    return sorted(decisions, key=lambda record: record["_ts"])


def check_tuner(logs: Any, stack: Stack, now: datetime) -> Finding:
    group = f"/aws/lambda/{stack.name}-target-tuner"
    try:
        decisions = _tuner_events(logs, group)
    except logs.exceptions.ResourceNotFoundException:
        decisions = []
    if decisions:
        last = decisions[-1]
        when = datetime.fromtimestamp(last["_ts"] / 1000, UTC).isoformat(timespec="seconds")
        return ok(
            "tuner",
            f"last decision {when}: {last['message']} ({last.get('action')}),"
            f" target {last.get('current_target')} -> {last.get('new_target')}: {last.get('reason')}",
        )
    if now - stack.created < timedelta(minutes=15):
        return note(
            "tuner", "no decision logged yet; the tuner runs every TunerSchedule (5 minutes by default)"
        )
    return problem(
        "tuner",
        f"no decision in {group}",
        f"aws events describe-rule --name {stack.name}-target-tuner; aws logs tail {group} --since 1h",
    )


def policy_of(session: Any, stack: Stack) -> TargetPolicy:
    name = stack.outputs["ScalingPolicyName"]
    platform = platform_of(Platform(stack.platform))
    cluster = stack.outputs.get("ClusterName", "")
    return platform.target_policy(cluster, stack.fleet, name, client=session.client(platform.policy_service))


def check_target(session: Any, stack: Stack) -> Finding:
    initial = float(stack.parameters.get("InitialTarget", "30"))
    try:
        current = policy_of(session, stack).current_target()
    except (KeyError, LookupError) as err:
        return problem("target", f"the target-tracking policy cannot be read: {err}", "redeploy the stack")
    if current == initial:
        return note(
            "target",
            f"the target is still InitialTarget ({initial:g}): the tuner has not moved it (it waits for"
            " MIN_SAMPLES processing durations, and moves by 5% or more)",
        )
    return ok("target", f"the tuner moved the target from InitialTarget {initial:g} to {current:g}")


def check_dead_letters(sqs: Any, stack: Stack) -> Finding:
    url = stack.outputs.get("DeadLetterQueueUrl", "none")
    if url == "none":
        return note("dead letters", "ExistingQueueArn: the queue's own dead-letter queue is not checked")
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "QueueArn"]
    )
    depth = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    arn = attributes["Attributes"]["QueueArn"]
    if depth:
        return problem(
            "dead letters",
            f"{depth} messages in the dead-letter queue (they failed MaxReceiveCount times)",
            f"look at them: aws sqs receive-message --queue-url {url} --max-number-of-messages 10;"
            f" after the fix, redrive: aws sqs start-message-move-task --source-arn {arn}",
        )
    return ok("dead letters", "the dead-letter queue is empty")
