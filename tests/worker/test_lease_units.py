"""Leases and metric flushes on in-process moto: which failures are retried, which are given up, once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from tests.worker.conftest import wait_until
from worker.lease import Job, Leases, State
from worker.metrics import Publisher, Recorder
from worker.settings import Settings

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1", config=ONE_ATTEMPT)


def _held(sqs: Any, leases: Leases, queue_url: str, visibility: int) -> Job:
    sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
    [message] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=visibility)["Messages"]
    now = time.monotonic()
    job = Job(message["MessageId"], message["ReceiptHandle"], "{}", 1, None, now, now + visibility)
    with leases.cond:
        leases.hold(job)
    return job


def _leases(sqs: Any) -> tuple[Leases, str]:
    queue_url = sqs.create_queue(QueueName="work")["QueueUrl"]
    return Leases(Settings(queue_url=queue_url, visibility_timeout=8), sqs, threading.Condition()), queue_url


def test_a_fifo_delete_goes_out_at_once_not_at_the_next_tick(sqs: Any):
    # The group's next message is handed out only when this delete lands: it must not wait a tick.
    queue_url = sqs.create_queue(
        QueueName="work.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    leases = Leases(Settings(queue_url=queue_url, visibility_timeout=8), sqs, threading.Condition())
    leases.tick = 3600.0  # a tick that never comes during the test
    sqs.send_message(QueueUrl=queue_url, MessageBody="{}", MessageGroupId="g")
    [message] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=8)["Messages"]
    now = time.monotonic()
    job = Job(message["MessageId"], message["ReceiptHandle"], "{}", 1, None, now, now + 8, group_id="g")
    halt = threading.Event()
    threading.Thread(target=leases.settle_loop, args=(halt,), daemon=True).start()
    with leases.cond:
        leases.hold(job)
        leases.delete(job)
    try:
        wait_until(lambda: not leases.held, 10, "the delete applied without a tick")
    finally:
        halt.set()
    assert (
        sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def _fail(sqs: Any, operation: str) -> None:
    def refuse(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1")

    sqs.meta.events.register(f"before-send.sqs.{operation}", refuse, unique_id="refuse")


def test_a_failed_delete_is_retried_with_backoff_and_the_lease_kept(sqs: Any):
    leases, queue_url = _leases(sqs)
    job = _held(sqs, leases, queue_url, 8)
    with leases.cond:
        leases.delete(job)
    _fail(sqs, "DeleteMessageBatch")

    leases.settle()

    assert job.state is State.DELETING and job.delete_attempts == 1 and job.retry_at > time.monotonic()
    assert leases.held == {job.receipt_handle: job} and leases.unsettled()
    sqs.meta.events.unregister("before-send.sqs.DeleteMessageBatch", unique_id="refuse")
    job.retry_at = 0  # due now
    leases.settle()
    assert leases.held == {} and not leases.unsettled()
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
    ) == (
        "0",
        "0",
    )


def test_a_rejected_heartbeat_is_logged_once_and_never_sent_again(sqs: Any, caplog: pytest.LogCaptureFixture):
    leases, queue_url = _leases(sqs)
    job = _held(sqs, leases, queue_url, 8)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=job.receipt_handle)  # gone behind our back
    job.visible_until = time.monotonic()  # due
    calls: list[str] = []
    sqs.meta.events.register("before-call.sqs.ChangeMessageVisibilityBatch", lambda **_: calls.append("call"))

    with caplog.at_level(logging.WARNING, logger="worker"):
        for _ in range(3):
            leases.heartbeat()

    assert job.lost and calls == ["call"]
    assert [r.getMessage() for r in caplog.records] == ["heartbeat rejected: message no longer held"]


def test_a_transient_heartbeat_failure_is_retried_next_tick(sqs: Any):
    leases, queue_url = _leases(sqs)
    job = _held(sqs, leases, queue_url, 8)
    job.visible_until = time.monotonic()
    _fail(sqs, "ChangeMessageVisibilityBatch")
    leases.heartbeat()
    assert not job.lost and job.visible_until <= time.monotonic()
    sqs.meta.events.unregister("before-send.sqs.ChangeMessageVisibilityBatch", unique_id="refuse")
    leases.heartbeat()
    assert job.visible_until > time.monotonic() + 7


def _publisher() -> tuple[Publisher, Recorder, Any]:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", config=ONE_ATTEMPT)
    recorder = Recorder()
    recorder.processed(1.0, 2.0)
    return Publisher(cloudwatch, "Test", "fleet", recorder), recorder, cloudwatch


def test_a_put_metric_data_without_an_answer_is_dropped_not_resent():
    with mock_aws():
        publisher, recorder, cloudwatch = _publisher()
        cloudwatch.meta.events.register(
            "before-send.cloudwatch.PutMetricData",
            lambda **_: (_ for _ in ()).throw(ReadTimeoutError(endpoint_url="http://127.0.0.1")),
        )
        assert publisher.flush() is False
        assert recorder.take().is_empty(), "may have been recorded: never sent twice"


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "PutMetricData"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1"),
    ],
    ids=["refused", "never-sent"],
)
def test_a_put_metric_data_surely_not_recorded_is_kept_for_the_next_flush(error: Exception):
    with mock_aws():
        publisher, recorder, cloudwatch = _publisher()
        cloudwatch.meta.events.register(
            "before-send.cloudwatch.PutMetricData", lambda **_: (_ for _ in ()).throw(error), unique_id="x"
        )
        assert publisher.flush() is False
        cloudwatch.meta.events.unregister("before-send.cloudwatch.PutMetricData", unique_id="x")
        assert publisher.flush() is True  # the kept interval goes out with the next flush
        assert recorder.take().is_empty()
        names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="Test")["Metrics"]}
        assert "MessagesProcessed" in names
