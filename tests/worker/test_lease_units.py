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
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from moto import mock_aws

from tests.worker.conftest import published_sum, wait_until
from worker.lease import Job, Leases, State
from worker.metrics import FINAL_FLUSH_ATTEMPTS, Publisher, Recorder
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
    return Publisher(cloudwatch, "Test", "fleet", recorder, final_pause_s=0.0), recorder, cloudwatch


URL = "http://127.0.0.1"
REFUSED = ClientError({"Error": {"Code": "InternalFailure", "Message": "try again"}}, "PutMetricData")
THROTTLED = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "PutMetricData")


def _answer_with(cloudwatch: Any, *errors: Exception) -> list[str]:
    """PutMetricData fails with `errors` in turn, then goes through; returns the log of calls."""
    calls: list[str] = []
    pending = list(errors)

    def send(**_: Any) -> None:
        calls.append("call")
        if pending:
            raise pending.pop(0)

    cloudwatch.meta.events.register("before-send.cloudwatch.PutMetricData", send, unique_id="faults")
    return calls


def _published(cloudwatch: Any, metric: str = "MessagesProcessed") -> float:
    return published_sum(cloudwatch, metric)


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url=URL),
        ConnectionClosedError(endpoint_url=URL),
    ],
    ids=["read-timeout", "connection-dropped"],
)
def test_a_put_metric_data_without_an_answer_is_dropped_not_resent(error: Exception):
    with mock_aws():
        publisher, recorder, cloudwatch = _publisher()
        calls = _answer_with(cloudwatch, error, error)
        assert publisher.flush() is False
        assert recorder.take().is_empty(), "may have been recorded: never sent twice"
        # Not even by the final flush, which sends again only what surely was not taken.
        recorder.processed(1.0, None)
        assert publisher.flush(final=True) is False
        assert len(calls) == 2
        assert recorder.take().is_empty()


@pytest.mark.parametrize(
    "error",
    [
        THROTTLED,
        REFUSED,
        EndpointConnectionError(endpoint_url=URL),
        ConnectTimeoutError(endpoint_url=URL),
        ProxyConnectionError(proxy_url=URL, error="refused"),
        SSLError(endpoint_url=URL, error="handshake failed"),
    ],
    ids=["throttled", "5xx", "no-connection", "connect-timeout", "proxy", "tls-handshake"],
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


def test_the_final_flush_sends_refused_data_again_until_it_is_taken():
    with mock_aws():
        publisher, recorder, cloudwatch = _publisher()
        calls = _answer_with(cloudwatch, REFUSED, THROTTLED, EndpointConnectionError(endpoint_url=URL))
        assert publisher.flush(final=True) is True
        assert len(calls) == 4
        assert recorder.take().is_empty()
        assert _published(cloudwatch) == 1


def test_the_final_flush_gives_up_after_its_attempts_and_says_what_was_lost(caplog: pytest.LogCaptureFixture):
    with mock_aws():
        publisher, _recorder, cloudwatch = _publisher()
        calls = _answer_with(cloudwatch, *[REFUSED] * (FINAL_FLUSH_ATTEMPTS + 1))
        with caplog.at_level(logging.WARNING, logger="worker.metrics"):
            assert publisher.flush(final=True) is False
        assert len(calls) == FINAL_FLUSH_ATTEMPTS
        [record] = [r for r in caplog.records if r.getMessage() == "metrics not published at shutdown"]
        assert (record.processed, record.failed) == (1, 0)  # type: ignore[attr-defined]


def test_a_refused_interval_is_merged_into_the_next_flush_and_counted_once():
    with mock_aws():
        publisher, recorder, cloudwatch = _publisher()  # 1 processed
        _answer_with(cloudwatch, REFUSED)
        assert publisher.flush(running_jobs=1, running_seconds=5.0) is False
        recorder.processed(2.0, None)
        recorder.failed()
        assert publisher.flush() is True
        assert _published(cloudwatch) == 2
        assert _published(cloudwatch, "MessagesFailed") == 1
        # The refused interval's running gauge is not sent later: it was true then, not now.
        assert _published(cloudwatch, "RunningJobs") == 0


def test_the_final_flush_waits_for_a_flush_in_progress_and_sends_what_it_gave_back():
    with mock_aws():
        publisher, recorder, cloudwatch = _publisher()  # 1 processed, taken by the periodic flush
        inside, release = threading.Event(), threading.Event()

        def slow_refusal(**_: Any) -> None:
            if not inside.is_set():
                inside.set()
                release.wait(10)
                raise REFUSED

        cloudwatch.meta.events.register("before-send.cloudwatch.PutMetricData", slow_refusal)
        periodic = threading.Thread(target=publisher.flush)
        periodic.start()
        assert inside.wait(10)
        recorder.processed(3.0, None)
        final = threading.Thread(target=publisher.flush, kwargs={"final": True})
        final.start()
        final.join(0.5)
        assert final.is_alive(), "the final flush waits for the flush in flight"
        release.set()  # the periodic flush is refused and gives its interval back...
        periodic.join(10)
        final.join(10)
        # ...and the final flush, which waited for it, sends both messages.
        assert _published(cloudwatch) == 2
        assert recorder.take().is_empty()
