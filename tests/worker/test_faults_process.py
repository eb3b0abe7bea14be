"""Slow CloudWatch, lost PutMetricData answers, slow SQS and an SQS outage: no duplicates, exact metrics.

The workers talk to the moto server through tests/worker/aws_proxy.py, which injects the faults
that an independent fault-injection run showed to cause duplicate processing or wrong metrics.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from tests.worker.aws_proxy import AwsProxy, Fault
from tests.worker.conftest import Aws, job, wait_until

pytestmark = pytest.mark.slow

MESSAGES = 45
VISIBILITY = 8
OUTAGE_SECONDS = 5  # shorter than 3/4 of the visibility timeout: no lease may expire


def _processed_sum(aws: Aws, metric: str = "MessagesProcessed", statistic: Any = "Sum") -> float:
    points = aws.cloudwatch.get_metric_statistics(
        Namespace="Faults",
        MetricName=metric,
        Dimensions=[{"Name": "FleetName", "Value": "faulty"}],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    return float(sum(cast(dict[str, float], point)[statistic] for point in points))


def test_no_duplicates_and_exact_metrics_when_the_aws_apis_are_slow_or_failing(
    aws: Aws, start_worker, moto_url: str
):
    queue_url, _ = aws.queue(visibility=VISIBILITY)
    with AwsProxy(moto_url) as proxy:
        # CloudWatch takes 4.5 s a call (over half the lease) and every 2nd PutMetricData answer is lost.
        proxy.fault(Fault("monitoring", delay_s=4.5))
        proxy.fault(Fault("monitoring", frozenset({"PutMetricData"}), drop_answer=True, every=2))
        # SQS is slow on deletes and visibility changes.
        proxy.fault(
            Fault("sqs", frozenset({"DeleteMessageBatch", "ChangeMessageVisibilityBatch"}), delay_s=0.3)
        )
        settings: dict[str, Any] = {
            "AWS_ENDPOINT_URL": proxy.url,
            "WORKER_CONCURRENCY": "3",
            "WORKER_VISIBILITY_TIMEOUT": str(VISIBILITY),
            "FLEET_NAME": "faulty",
            "METRIC_NAMESPACE": "Faults",
        }
        workers = [start_worker(queue_url, **settings) for _ in range(2)]
        aws.send(queue_url, [job(f"f-{i}", 0.3 + 0.3 * (i % 5)) for i in range(MESSAGES)])

        def processed() -> list[dict[str, Any]]:
            return [line for worker in workers for line in worker.outcomes("processed")]

        # A 5 s SQS outage (every call answered 503) while jobs are running and finishing.
        wait_until(lambda: len(processed()) >= 10, 90, "a first share processed")
        outage = proxy.fault(Fault("sqs", status=503, until=time.monotonic() + OUTAGE_SECONDS))
        wait_until(lambda: len(processed()) == MESSAGES and aws.counts(queue_url) == (0, 0), 120, "all done")
        for worker in workers:
            worker.signal(signal.SIGTERM)
        assert [worker.wait(timeout=90) for worker in workers] == [0, 0]

    # Every message processed exactly once, and never started twice (no lease expired under a job).
    done = processed()
    assert sorted(line["job_id"] for line in done) == sorted(f"f-{i}" for i in range(MESSAGES))
    assert {line["receive_count"] for line in done} == {1}
    # The faults did hit: failed deletes were retried, and lost metric answers were not re-sent.
    assert outage.seen > 0
    logs = [line for worker in workers for line in worker.lines]
    assert any(line["message"] in ("delete batch failed", "heartbeat batch failed") for line in logs)
    assert any(line["message"] == "metrics flush unconfirmed, interval dropped" for line in logs)
    # The proxy forwarded each dropped-answer flush, so CloudWatch holds every interval exactly once.
    assert _processed_sum(aws) == MESSAGES


def test_metrics_exact_when_put_metric_data_is_refused_half_the_time_and_loses_answers(
    aws: Aws, start_worker, moto_url: str
):
    # Given CloudWatch answering every 2nd PutMetricData with HTTP 500 (the request never reached it)
    # and, of the others, 2 in 10 taking effect but the connection dropping before the answer
    queue_url, _ = aws.queue(visibility=30)
    messages = 120
    with AwsProxy(moto_url) as proxy:
        refused = proxy.fault(Fault("monitoring", frozenset({"PutMetricData"}), status=500, every=2))
        for offset in (1, 5):
            proxy.fault(
                Fault("monitoring", frozenset({"PutMetricData"}), drop_answer=True, every=10, offset=offset)
            )
        settings: dict[str, Any] = {
            "AWS_ENDPOINT_URL": proxy.url,
            "WORKER_CONCURRENCY": "3",
            "FLEET_NAME": "faulty",
            "METRIC_NAMESPACE": "Faults",
        }
        workers = [start_worker(queue_url, **settings) for _ in range(2)]
        aws.send(queue_url, [job(f"m-{i}", 0.05 * (i % 4)) for i in range(messages)])

        def processed() -> list[dict[str, Any]]:
            return [line for worker in workers for line in worker.outcomes("processed")]

        wait_until(lambda: len(processed()) == messages and aws.counts(queue_url) == (0, 0), 120, "all done")
        for worker in workers:
            worker.signal(signal.SIGTERM)
        assert [worker.wait(timeout=90) for worker in workers] == [0, 0]

    # Then both kinds of failure happened, and CloudWatch holds every processed message exactly once:
    # refused data went out again, data whose answer was lost was recorded by CloudWatch once
    logs = [line for worker in workers for line in worker.lines]
    assert refused.seen >= 4
    assert any(line["message"] == "metrics flush failed, kept for the next flush" for line in logs)
    assert any(line["message"] == "metrics flush unconfirmed, interval dropped" for line in logs)
    assert len(processed()) == messages
    assert _processed_sum(aws) == messages
    assert _processed_sum(aws, "MsgProcessingDuration", "SampleCount") == messages


def test_the_last_interval_reaches_cloudwatch_when_the_final_flush_is_refused(
    aws: Aws, start_worker, moto_url: str
):
    # Given workers that publish only at shutdown (an interval longer than the test), and CloudWatch
    # refusing every odd PutMetricData with HTTP 500 and losing the answer to the 2nd after taking it
    queue_url, _ = aws.queue(visibility=30)
    messages = 30
    with AwsProxy(moto_url) as proxy:
        puts = frozenset({"PutMetricData"})
        refused = proxy.fault(Fault("monitoring", puts, status=500, every=2, offset=1))
        proxy.fault(Fault("monitoring", puts, drop_answer=True, every=1000, offset=2))
        settings: dict[str, Any] = {
            "AWS_ENDPOINT_URL": proxy.url,
            "WORKER_CONCURRENCY": "3",
            "WORKER_METRICS_INTERVAL": "3600",
            "FLEET_NAME": "faulty",
            "METRIC_NAMESPACE": "Faults",
        }
        workers = [start_worker(queue_url, **settings) for _ in range(2)]
        aws.send(queue_url, [job(f"s-{i}", 0.02) for i in range(messages)])
        wait_until(
            lambda: (
                sum(len(worker.outcomes("processed")) for worker in workers) == messages
                and aws.counts(queue_url) == (0, 0)
            ),
            60,
            "all done",
        )
        for worker in workers:
            worker.signal(signal.SIGTERM)
        assert [worker.wait(timeout=90) for worker in workers] == [0, 0]

    # Then the refused final flush was sent again, and every message is counted exactly once
    assert refused.seen >= 2
    assert _processed_sum(aws) == messages
