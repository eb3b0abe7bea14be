"""The running-jobs gauge the tuner reads (RunningJobs, RunningJobSeconds): published at each flush."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from worker.metrics import Publisher, Recorder


def _sum(cloudwatch, name: str) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="Test",
        MetricName=name,
        Dimensions=[{"Name": "FleetName", "Value": "fleet"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


@mock_aws
def test_a_flush_with_long_jobs_running_publishes_them_even_when_nothing_finished() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    publisher = Publisher(cloudwatch, "Test", "fleet", Recorder())

    assert publisher.flush(running_jobs=2, running_seconds=3600.0)

    assert _sum(cloudwatch, "RunningJobs") == 2
    assert _sum(cloudwatch, "RunningJobSeconds") == 3600.0
    assert _sum(cloudwatch, "MessagesProcessed") == 0


@mock_aws
def test_an_idle_worker_makes_no_call() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    publisher = Publisher(cloudwatch, "Test", "fleet", Recorder())

    assert publisher.flush()

    assert cloudwatch.list_metrics(Namespace="Test")["Metrics"] == []
