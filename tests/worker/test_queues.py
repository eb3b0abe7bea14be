"""Several queues for one worker (WORKER_QUEUE_URLS): strict priority, each message deleted from its
own queue, and the settings."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from tests.worker.conftest import Aws, job, wait_until
from worker.queues import PriorityReceiver, batches, is_fifo, permanent_error, queue_url, receive_size
from worker.settings import Settings, SettingsError

HIGH = "https://sqs.us-east-1.amazonaws.com/123456789012/high"


def test_queue_list_takes_urls_and_arns_and_defaults_to_queue_url() -> None:
    settings = Settings.from_env(
        {"QUEUE_URL": HIGH, "WORKER_QUEUE_URLS": f"{HIGH}, arn:aws:sqs:us-east-1:123456789012:low.fifo"}
    )
    assert settings.queues == (HIGH, "https://sqs.us-east-1.amazonaws.com/123456789012/low.fifo")
    assert Settings.from_env({"QUEUE_URL": HIGH}).queues == (HIGH,)
    with pytest.raises(SettingsError, match="WORKER_QUEUE_URLS"):
        Settings.from_env({"QUEUE_URL": HIGH, "WORKER_QUEUE_URLS": "arn:aws:sns:us-east-1:123456789012:t"})
    assert (
        queue_url("arn:aws-cn:sqs:cn-north-1:123456789012:q")
        == "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q"
    )


def test_queue_url_takes_an_arn_like_worker_queue_urls() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:work.fifo"
    settings = Settings.from_env({"QUEUE_URL": f" {arn} "})
    assert settings.queue_url == "https://sqs.eu-west-1.amazonaws.com/123456789012/work.fifo"
    assert settings.queues == (settings.queue_url,)
    with pytest.raises(SettingsError, match="QUEUE_URL: 'arn:aws:sns:us-east-1:123456789012:t' is neither"):
        Settings.from_env({"QUEUE_URL": "arn:aws:sns:us-east-1:123456789012:t"})


def test_a_fifo_queue_is_received_one_message_at_a_time() -> None:
    fifo = "https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo"
    assert [receive_size(fifo, free) for free in (1, 2, 4, 10, 16)] == [1, 1, 1, 1, 1]
    assert [receive_size(HIGH, free) for free in (1, 2, 4, 10, 16)] == [1, 2, 4, 10, 10]
    assert (
        is_fifo(fifo)
        and is_fifo(fifo + "/")
        and is_fifo(queue_url("arn:aws:sqs:eu-west-1:123456789012:q.fifo"))
    )
    assert not is_fifo(HIGH) and not is_fifo("https://sqs.us-east-1.amazonaws.com/123456789012/workfifo")
    with pytest.raises(ValueError):
        receive_size(HIGH, 0)


def _refused(code: str, query_code: str | None = None) -> ClientError:
    error: Any = {"Code": code, "Message": "refused"}
    if query_code:
        error["QueryErrorCode"] = query_code
    return ClientError({"Error": error}, "ReceiveMessage")


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (
            _refused("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"),
            "QueueDoesNotExist: refused",
        ),
        (
            _refused("AWS.SimpleQueueService.NonExistentQueue"),
            "AWS.SimpleQueueService.NonExistentQueue: refused",
        ),
        (_refused("KMS.AccessDeniedException", "KmsAccessDenied"), "KmsAccessDenied: refused"),
        (_refused("KmsNotFound"), "KmsNotFound: refused"),
        (_refused("AccessDenied", "AccessDeniedException"), "AccessDeniedException: refused"),
        (_refused("InvalidAddress"), "InvalidAddress: refused"),
        (_refused("RequestThrottled"), None),
        (_refused("KmsThrottled"), None),
        (_refused("OverLimit"), None),
        (_refused("ServiceUnavailable"), None),
        (_refused("InternalError"), None),
        (EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com"), None),
        (ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com"), None),
    ],
)
def test_only_errors_no_retry_can_fix_are_permanent(error: Exception, problem: str | None) -> None:
    assert permanent_error(error) == problem


def test_batches_take_one_queue_each_and_ten_at_most() -> None:
    items = [("a", i) for i in range(12)] + [("b", 0)]
    grouped = [(url, len(batch)) for url, batch in batches(items, lambda item: item[0])]
    assert grouped == [("a", 10), ("a", 2), ("b", 1)]
    with pytest.raises(ValueError):
        PriorityReceiver([], 20)


@pytest.mark.slow
def test_worker_fills_slots_from_the_first_queue_with_work(aws: Aws, start_worker):
    # Given a high- and a low-priority queue with work on both; the low one named by its ARN
    high, _ = aws.queue("high")
    low, _ = aws.queue("low")
    low_arn = aws.sqs.get_queue_attributes(QueueUrl=low, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.send(low, [job(f"low-{i}", 0.01) for i in range(5)])
    aws.send(high, [job(f"high-{i}", 0.01) for i in range(5)])

    # When one single-slot worker consumes both
    worker = start_worker(high, WORKER_QUEUE_URLS=f"{high},{low_arn}", WORKER_CONCURRENCY="1")
    wait_until(lambda: aws.counts(high) == (0, 0) and aws.counts(low) == (0, 0), 60, "both drained")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    # Then every high-priority message went first, and each was deleted from its own queue
    processed = [line["job_id"] for line in worker.outcomes("processed")]
    assert sorted(processed[:5]) == [f"high-{i}" for i in range(5)]
    assert sorted(processed[5:]) == [f"low-{i}" for i in range(5)]
