"""The running-jobs gauge the tuner reads (RunningJobs, RunningJobSeconds): published at each flush."""

from __future__ import annotations

import boto3
from moto import mock_aws

from tests.worker.conftest import published_sum
from worker.metrics import Publisher, Recorder


@mock_aws
def test_a_flush_with_long_jobs_running_publishes_them_even_when_nothing_finished() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    publisher = Publisher(cloudwatch, "Test", "fleet", Recorder())

    assert publisher.flush(running_jobs=2, running_seconds=3600.0)

    assert published_sum(cloudwatch, "RunningJobs") == 2
    assert published_sum(cloudwatch, "RunningJobSeconds") == 3600.0
    assert published_sum(cloudwatch, "MessagesProcessed") == 0


@mock_aws
def test_an_idle_worker_makes_no_call() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    publisher = Publisher(cloudwatch, "Test", "fleet", Recorder())

    assert publisher.flush()

    assert cloudwatch.list_metrics(Namespace="Test")["Metrics"] == []
