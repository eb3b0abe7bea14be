"""CloudWatch: the scaling metrics (PutMetricData), the measured durations, the running jobs, the
queue's oldest message and its statistics for Little's law (GetMetricStatistics), and how long the
fleet has been settled (GetMetricData).

AWS calls: cloudwatch:PutMetricData, cloudwatch:GetMetricStatistics, cloudwatch:GetMetricData.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from queue_autoscaler.adapters import clients
from queue_autoscaler.scaling.estimate import NO_RUNNING_JOBS, RunningJobs
from queue_autoscaler.scaling.policy_spec import METRICS
from queue_autoscaler.scaling.service_time import Interval
from queue_autoscaler.scaling.slo_guard import is_settled
from queue_autoscaler.scaling.target import DurationStats

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.literals import StandardUnitType
    from mypy_boto3_cloudwatch.type_defs import DatapointTypeDef, MetricDatumTypeDef

FLEET_DIMENSION = "FleetName"
DURATION_METRIC = METRICS.processing_duration
# What each worker publishes at each metrics flush: the jobs it is running and their summed elapsed seconds.
RUNNING_JOBS_METRIC = METRICS.running_jobs
RUNNING_JOB_SECONDS_METRIC = METRICS.running_job_seconds
SQS_NAMESPACE = "AWS/SQS"
OLDEST_AGE_METRIC = "ApproximateAgeOfOldestMessage"
LATEST_WINDOW_MINUTES = 5  # SQS publishes every minute; a longer silence means no reading
IN_FLIGHT_METRIC = METRICS.in_flight
SQS_DELETED_METRIC = "NumberOfMessagesDeleted"  # AWS/SQS, dimension QueueName
_QUEUE_PERIOD_SECONDS = 60  # AWS/SQS publishes one-minute data
RUNNING_CAPACITY_METRIC = METRICS.running  # the publisher's, every minute
DESIRED_CAPACITY_METRIC = METRICS.desired

# Units of the metrics this bundle publishes (docs/contracts.md).
UNITS: dict[str, StandardUnitType] = {
    METRICS.backlog_per_instance: "None",
    METRICS.visible: "Count",
    METRICS.in_flight: "Count",
    METRICS.running: "Count",
    METRICS.peer_running: "Count",
    METRICS.group_ceiling: "None",
    METRICS.desired: "Count",
    METRICS.target: "None",
    METRICS.scale_out_pressure: "None",
    METRICS.scale_in_pressure: "None",
}


@dataclass(frozen=True)
class DurationWindow:
    """What GetMetricStatistics said about one window, before it becomes DurationStats."""

    samples: int
    mean_s: float
    max_s: float | None


class FleetMetrics:
    """Metrics of one fleet: namespace + the single dimension FleetName."""

    def __init__(self, namespace: str, fleet_name: str, client: CloudWatchClient | None = None) -> None:
        self.namespace = namespace
        self.fleet_name = fleet_name
        self._client = client

    @property
    def client(self) -> CloudWatchClient:
        return self._client or clients.cloudwatch()

    @property
    def dimensions(self) -> list[Any]:
        return [{"Name": FLEET_DIMENSION, "Value": self.fleet_name}]

    def put(
        self, values: Mapping[str, float], timestamp: datetime, storage_resolution: Literal[1, 60] = 60
    ) -> None:
        """All values of one sample in ONE PutMetricData call (at most 1,000 metrics a call)."""
        data: list[MetricDatumTypeDef] = [
            {
                "MetricName": name,
                "Dimensions": self.dimensions,
                "Timestamp": timestamp,
                "Value": float(value),
                "Unit": UNITS.get(name, "None"),
                "StorageResolution": storage_resolution,
            }
            for name, value in values.items()
        ]
        self.client.put_metric_data(Namespace=self.namespace, MetricData=data)

    def duration_stats(
        self, end: datetime, lookback_minutes: int, tail_percentile: str
    ) -> DurationStats | None:
        """Average, count, maximum and the tail percentile of MsgProcessingDuration over the window.

        ONE period spans the whole window (a multiple of 60 s, so any retention works), so every
        sample counts, not only the newest datapoint. Statistics and ExtendedStatistics must be
        asked in separate calls. A source that computes no percentile (statistic sets, moto)
        leaves tail_s None and scaling.target estimates the tail from the maximum.
        """
        # docs/aws-behaviour.md#cw-percentiles-need-values (and #cw-get-metric-statistics-limits)
        period = lookback_minutes * 60
        query: dict[str, Any] = {
            "Namespace": self.namespace,
            "MetricName": DURATION_METRIC,
            "Dimensions": self.dimensions,
            "StartTime": end - timedelta(seconds=period),
            "EndTime": end,
            "Period": period,
        }
        basic = self.client.get_metric_statistics(**query, Statistics=["Average", "SampleCount", "Maximum"])
        window = combine(basic["Datapoints"])
        if window is None:
            return None
        extended = self.client.get_metric_statistics(**query, ExtendedStatistics=[tail_percentile])
        tails = [
            value
            for point in extended["Datapoints"]
            if (value := point.get("ExtendedStatistics", {}).get(tail_percentile)) is not None
            and math.isfinite(value)
        ]
        # Across several datapoints (a window straddling a period boundary) the largest tail is
        # the safe choice: percentiles cannot be merged exactly.
        tail = max(tails) if tails else None
        return DurationStats(samples=window.samples, mean_s=window.mean_s, tail_s=tail, max_s=window.max_s)

    def queue_intervals(self, end: datetime, lookback_minutes: int, queue_name: str) -> list[Interval]:
        """Per minute: average InFlightMessages (ours) and NumberOfMessagesDeleted (AWS/SQS).

        Only whole minutes that both sources cover count: AWS/SQS data arrives minutes late, and a
        missing minute must not read as zero completions.
        """
        # AWS/SQS goes quiet on idle queues: docs/aws-behaviour.md#sqs-metrics-minute-idle
        end = end.replace(second=0, microsecond=0)  # whole minutes: the current one is incomplete
        window: dict[str, Any] = {
            "StartTime": end - timedelta(minutes=lookback_minutes),
            "EndTime": end,
            "Period": _QUEUE_PERIOD_SECONDS,
        }
        in_flight = self.client.get_metric_statistics(
            Namespace=self.namespace,
            MetricName=IN_FLIGHT_METRIC,
            Dimensions=self.dimensions,
            Statistics=["Average"],
            **window,
        )["Datapoints"]
        deleted = self.client.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName=SQS_DELETED_METRIC,
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            Statistics=["Sum"],
            **window,
        )["Datapoints"]
        completed = {
            point["Timestamp"]: point["Sum"] for point in deleted if "Timestamp" in point and "Sum" in point
        }
        return [
            Interval(
                seconds=_QUEUE_PERIOD_SECONDS,
                in_flight=point["Average"],
                completed=completed[point["Timestamp"]],
            )
            for point in sorted(in_flight, key=lambda p: p.get("Timestamp", end))
            if "Average" in point and point.get("Timestamp") in completed
        ]

    def latest(self, metric: str, end: datetime) -> float | None:
        """The newest 1-minute Maximum of one of the fleet's metrics in the last few minutes."""
        return latest_maximum(self.client, self.namespace, metric, self.dimensions, end)

    def running_jobs(self, end: datetime) -> RunningJobs:
        """The workers' running jobs: Sum over the most recent complete minute of RunningJobs and
        RunningJobSeconds (each worker publishes both once per flush). None published: none known."""
        minute_end = end.replace(second=0, microsecond=0)
        sums = [
            self._minute_sum(metric, minute_end)
            for metric in (RUNNING_JOBS_METRIC, RUNNING_JOB_SECONDS_METRIC)
        ]
        count, elapsed = sums
        if count is None or elapsed is None or count <= 0:
            return NO_RUNNING_JOBS
        return RunningJobs(count=round(count), elapsed_total_s=max(0.0, elapsed))

    def settled_minutes(self, end: datetime, max_minutes: int) -> int:
        """Consecutive one-minute periods, back from the most recent complete minute before ``end``,
        with Minimum(RunningCapacity) >= Maximum(DesiredCapacity) > 0; at most ``max_minutes``.

        Minimum and Maximum: a minute with two publisher samples counts only if the worse pair was
        settled. A minute missing either datapoint ends the run (unknown is not settled).
        One GetMetricData request for both series. Its default MaxDatapoints is 100,800, so the
        paginator (NextToken) only ever sees one page for the 2 x 1,440 points the tuner asks for
        at most; it is there for correctness, not expected to loop.
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
        """
        if max_minutes < 1:
            raise ValueError("max_minutes must be >= 1")
        # docs/aws-behaviour.md#cw-get-metric-data-limits
        minute_end = end.replace(second=0, microsecond=0)  # the current minute is incomplete
        queries: list[Any] = [
            self._minute_stat("running", RUNNING_CAPACITY_METRIC, "Minimum"),
            self._minute_stat("desired", DESIRED_CAPACITY_METRIC, "Maximum"),
        ]
        series: dict[str, dict[int, float]] = {"running": {}, "desired": {}}
        pages = self.client.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries,
            StartTime=minute_end - timedelta(minutes=max_minutes),  # aligned: whole one-minute periods
            EndTime=minute_end,
            ScanBy="TimestampDescending",
        )
        for page in pages:
            for result in page["MetricDataResults"]:
                minutes = (_minute_index(at) for at in result.get("Timestamps", []))
                series[result["Id"]].update(zip(minutes, result.get("Values", []), strict=True))
        return consecutive_settled(
            series["running"], series["desired"], _minute_index(minute_end) - 1, max_minutes
        )

    def _minute_stat(self, query_id: str, metric: str, stat: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": self.namespace, "MetricName": metric, "Dimensions": self.dimensions},
                "Period": 60,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    def _minute_sum(self, metric: str, minute_end: datetime) -> float | None:
        points = self.client.get_metric_statistics(
            Namespace=self.namespace,
            MetricName=metric,
            Dimensions=self.dimensions,
            StartTime=minute_end - timedelta(minutes=1),
            EndTime=minute_end,
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        sums = [p["Sum"] for p in points if "Sum" in p]
        return sum(sums) if sums else None


def oldest_message_age(
    queue_name: str, end: datetime, client: CloudWatchClient | None = None
) -> tuple[datetime, float] | None:
    """SQS ApproximateAgeOfOldestMessage (Maximum, newest datapoint of the last 5 minutes): the start
    of that datapoint's minute (AWS/SQS data arrives minutes late) and the age in seconds."""
    # A message received 3+ times drops out of it: docs/aws-behaviour.md#sqs-age-oldest
    dimensions: list[Any] = [{"Name": "QueueName", "Value": queue_name}]
    return newest_maximum(client or clients.cloudwatch(), SQS_NAMESPACE, OLDEST_AGE_METRIC, dimensions, end)


def latest_maximum(
    client: CloudWatchClient, namespace: str, metric: str, dimensions: list[Any], end: datetime
) -> float | None:
    newest = newest_maximum(client, namespace, metric, dimensions, end)
    return None if newest is None else newest[1]


def newest_maximum(
    client: CloudWatchClient, namespace: str, metric: str, dimensions: list[Any], end: datetime
) -> tuple[datetime, float] | None:
    """The newest one-minute Maximum of the last few minutes, with its timestamp."""
    points = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=dimensions,
        StartTime=end - timedelta(minutes=LATEST_WINDOW_MINUTES),
        EndTime=end,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    timed = [(p["Timestamp"], p["Maximum"]) for p in points if "Maximum" in p and "Timestamp" in p]
    return max(timed) if timed else None


def consecutive_settled(
    running_min: Mapping[int, float], desired_max: Mapping[int, float], last_minute: int, max_minutes: int
) -> int:
    """Settled minutes in a row, counting back from ``last_minute`` (minute indexes since the epoch)."""
    count = 0
    while count < max_minutes and is_settled(
        running_min.get(last_minute - count), desired_max.get(last_minute - count)
    ):
        count += 1
    return count


def _minute_index(at: datetime) -> int:
    """Whole minutes since the epoch (timezone-aware datetimes: botocore returns them in UTC)."""
    return math.floor(at.timestamp() / 60)


def combine(datapoints: Sequence[DatapointTypeDef]) -> DurationWindow | None:
    """Merge datapoints into one window: sample-weighted mean, largest maximum."""
    counted = [p for p in datapoints if p.get("SampleCount", 0) > 0 and "Average" in p]
    samples = sum(p["SampleCount"] for p in counted)
    if samples <= 0:
        return None
    mean = sum(p["Average"] * p["SampleCount"] for p in counted) / samples
    maxima = [p["Maximum"] for p in counted if "Maximum" in p]
    return DurationWindow(samples=round(samples), mean_s=mean, max_s=max(maxima) if maxima else None)
