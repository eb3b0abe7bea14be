"""`qas plan --stack`: a deployed stack's CloudWatch history, read only, turned into a trace.

Three read-only calls: `cloudformation:DescribeStacks` (outputs and parameters), and CloudWatch
`GetMetricData` / `GetMetricStatistics`. Arrivals are the queue's own `AWS/SQS NumberOfMessagesSent`
(Sum per period: every message sent, whatever the fleet did with it); processing times are the
workers' `MsgProcessingDuration` (hourly mean, and one p99 over the whole window).

CloudWatch keeps 1-minute datapoints for 15 days, 5-minute ones for 63 days and hourly ones for 455
days ("Metrics retention", Amazon CloudWatch User Guide, cloudwatch_concepts.html), so the period
grows with --days. Within a period, arrivals are spread at random (seeded): the history cannot
say more.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from qas.model.control_plane import Platform
from qas.sim.traces import MAX_SPAN_DAYS, Trace
from queue_autoscaler.scaling.policy_spec import METRICS
from queue_autoscaler.scaling.target import DurationStats

READ_ONLY_OPERATIONS = frozenset({"DescribeStacks", "GetMetricData", "GetMetricStatistics"})
MAX_DAYS = MAX_SPAN_DAYS  # the hourly datapoints' retention, also the longest trace
ALARM_SECONDS = 180  # the high alarm's 3 one-minute datapoints, part of CapacityLeadSeconds
HOUR_S = 3600
_Z99 = 2.3263  # the standard normal's 99th percentile


@dataclass(frozen=True)
class StackFacts:
    """What the deployed stack says about itself: where to read, and the current parameters."""

    name: str
    queue_name: str
    fleet_name: str
    namespace: str
    platform: Platform
    slo_s: float
    concurrency: int
    boot_s: float
    max_capacity: int


def describe_stack(cloudformation: Any, name: str) -> StackFacts:
    stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    if not stacks:
        raise ValueError(f"--stack {name}: no such stack")
    stack = stacks[0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    missing = [key for key in ("QueueUrl", "FleetName") if key not in outputs]
    if missing:
        raise ValueError(f"--stack {name}: not a queue-autoscaler stack (no output {', '.join(missing)})")

    def number(key: str, default: float) -> float:
        value = (params.get(key) or "").strip()
        if not value:
            return default
        try:
            parsed = float(value)
        except ValueError:
            parsed = math.nan
        if not math.isfinite(parsed):
            raise ValueError(f"--stack {name}: parameter {key} is {value!r}, not a number")
        return parsed

    platform = params.get("WorkerPlatform") or "EC2"
    if platform not in {p.value for p in Platform}:
        raise ValueError(
            f"--stack {name}: parameter WorkerPlatform is {platform!r}, not {' or '.join(Platform)}"
        )
    return StackFacts(
        name=name,
        queue_name=outputs["QueueUrl"].rstrip("/").rsplit("/", 1)[-1],
        fleet_name=outputs["FleetName"],
        namespace=params.get("MetricNamespace") or "QueueAutoscaler",
        platform=Platform(platform),
        slo_s=number("LatencySloSeconds", 300),
        concurrency=int(number("WorkerConcurrency", 2)),
        boot_s=max(0.0, number("CapacityLeadSeconds", 240) - ALARM_SECONDS),
        max_capacity=int(number("MaxCapacity", 10)),
    )


def period_for(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"--days must be within 1..{MAX_DAYS}")
    return 60 if days <= 15 else 300 if days <= 63 else HOUR_S


@dataclass(frozen=True)
class History:
    start: datetime
    period_s: int
    sent: list[tuple[datetime, float]]  # (period start, messages sent in it)
    hourly_mean_s: dict[datetime, float]  # hour start -> mean processing seconds
    durations: DurationStats  # the whole window: samples, mean, p99 (None if not computed), max


def _stat(facts: StackFacts, name: str, stat: str, period: int, query_id: str) -> dict[str, Any]:
    dimensions = (
        [{"Name": "QueueName", "Value": facts.queue_name}]
        if name == "NumberOfMessagesSent"
        else [{"Name": "FleetName", "Value": facts.fleet_name}]
    )
    namespace = "AWS/SQS" if name == "NumberOfMessagesSent" else facts.namespace
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
    }


def read_history(cloudwatch: Any, facts: StackFacts, days: int, now: datetime | None = None) -> History:
    period = period_for(days)
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    series: dict[str, dict[datetime, float]] = {"sent": {}, "mean": {}, "count": {}, "max": {}}
    queries = [
        _stat(facts, "NumberOfMessagesSent", "Sum", period, "sent"),
        _stat(facts, METRICS.processing_duration, "Average", HOUR_S, "mean"),
        _stat(facts, METRICS.processing_duration, "SampleCount", HOUR_S, "count"),
        _stat(facts, METRICS.processing_duration, "Maximum", HOUR_S, "max"),
    ]
    pages = cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    )
    for page in pages:
        for result in page["MetricDataResults"]:
            series[result["Id"]].update(zip(result["Timestamps"], result["Values"], strict=True))
    # GetMetricData cannot be asked for a percentile in moto; GetMetricStatistics can, and one
    # period over the whole window is one p99 (the tuner reads it the same way).
    tail_points = cloudwatch.get_metric_statistics(
        Namespace=facts.namespace,
        MetricName=METRICS.processing_duration,
        Dimensions=[{"Name": "FleetName", "Value": facts.fleet_name}],
        StartTime=start,
        EndTime=end,
        Period=days * 86_400,
        ExtendedStatistics=["p99"],
    )["Datapoints"]
    tails = [p["ExtendedStatistics"]["p99"] for p in tail_points if "p99" in p.get("ExtendedStatistics", {})]
    samples = sum(series["count"].values())
    if samples <= 0:
        raise ValueError(
            f"--stack {facts.name}: no MsgProcessingDuration in {facts.namespace} for fleet "
            f"{facts.fleet_name} in the last {days} days: the workers have not processed anything yet"
        )
    mean = sum(series["mean"][t] * n for t, n in series["count"].items() if t in series["mean"]) / samples
    durations = DurationStats(
        samples=round(samples),
        mean_s=mean,
        tail_s=max(tails) if tails else None,
        max_s=max(series["max"].values()) if series["max"] else None,
    )
    sent = sorted((t, v) for t, v in series["sent"].items() if v > 0)
    if not sent:
        raise ValueError(
            f"--stack {facts.name}: no AWS/SQS NumberOfMessagesSent for queue {facts.queue_name} "
            f"in the last {days} days: nothing to plan for"
        )
    return History(start, period, sent, series["mean"], durations)


def sigma_for(tail_over_mean: float) -> float:
    """The lognormal sigma whose p99 / mean is ``tail_over_mean`` (p99/mean = exp(z s - s^2 / 2))."""
    if tail_over_mean <= 1:
        return 0.0
    discriminant = _Z99 * _Z99 - 2 * math.log(tail_over_mean)
    return _Z99 if discriminant <= 0 else _Z99 - math.sqrt(discriminant)


def to_trace(history: History, seed: int = 1) -> Trace:
    """Arrivals spread at random within each period; lognormal durations with that hour's mean and
    the window's tail (p99, or the tuner's capped maximum when CloudWatch computes no percentile)."""
    rng = random.Random(seed)
    overall = history.durations
    sigma = sigma_for(overall.tail_estimate() / overall.mean_s)
    hours = sorted(history.hourly_mean_s)
    rows: list[tuple[float, float]] = []
    for at, count in history.sent:
        offset = (at - history.start).total_seconds()
        # The hourly datapoint whose hour holds this period (the last one starting at or before it).
        index = bisect.bisect_right(hours, at) - 1
        mean = history.hourly_mean_s[hours[index]] if index >= 0 else overall.mean_s
        mu = math.log(max(mean, 1e-3)) - sigma * sigma / 2
        for _ in range(round(count)):
            rows.append((offset + rng.random() * history.period_s, rng.lognormvariate(mu, sigma)))
    first = min(r[0] for r in rows)
    return Trace.from_rows([(a - first, p) for a, p in rows])
