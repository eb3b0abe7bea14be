"""Several queues for one worker, in strict priority (WORKER_QUEUE_URLS).

Free slots are filled from the first queue that has work: each round polls the queues in order,
each with a share of the long-poll wait, and stops at the first that returns messages. Long
polling returns as soon as a message is there, so a busy high-priority queue is served first and
an idle round costs one long-poll wait in total. No rule against starvation beyond that: a queue
lower in the list gets slots only while the ones above it are empty (the documented behaviour).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("worker")

T = TypeVar("T")
BATCH = 10  # SQS batch limit (receive, delete, change visibility): docs/aws-behaviour.md#sqs-batch-10

# Errors no retry can fix: the queue does not exist (a typo in the URL, another region, deleted),
# this role may not use it, or its KMS key is unusable (the receive errors of the SQS API reference;
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/troubleshooting-api-errors.html;
# docs/aws-behaviour.md#sqs-receive-errors).
# Throttling (RequestThrottled, KmsThrottled), OverLimit, 5xx and network errors are not here: retried.
# Both spellings of a code count: botocore gives the legacy query code as Code and the modelled name
# as QueryErrorCode (SQS's JSON protocol is query-compatible).
_PERMANENT_ERRORS = frozenset(
    {
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidAddress",
        "InvalidSecurity",
        "UnsupportedOperation",
        "KmsAccessDenied",
        "KmsDisabled",
        "KmsInvalidKeyUsage",
        "KmsInvalidState",
        "KmsNotFound",
        "KmsOptInRequired",
    }
)


class QueueUnusable(Exception):  # noqa: N818 - reads as the condition it reports
    """SQS refused a queue for good (permanent_error)."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"queue {url} cannot be used: {problem}")
        self.url = url
        self.problem = problem


def permanent_error(error: BaseException) -> str | None:
    """`Code: message` when SQS refused for good, None when a retry may help."""
    if not isinstance(error, ClientError):
        return None
    details = error.response.get("Error", {})
    code = details.get("QueryErrorCode") or details.get("Code") or ""
    if not {code, details.get("Code")} & _PERMANENT_ERRORS:
        return None
    return f"{code}: {details.get('Message', '')}".rstrip(": ")


def check_queues(sqs: SQSClient, urls: Sequence[str]) -> None:
    """One GetQueueAttributes per queue before the first receive: a queue SQS refuses for good raises
    QueueUnusable; an error a retry may fix is logged and left to the receive loop, which retries."""
    for url in urls:
        try:
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        except Exception as error:
            problem = permanent_error(error)
            if problem is not None:
                raise QueueUnusable(url, problem) from None
            log.warning("cannot check queue %s at start", url, extra={"error": str(error)})


# The template passes the extra queues as ARNs (CloudFormation cannot map a list to URLs). The
# worker image has no src/, so this small conversion lives here as in the metric publisher's settings.
_QUEUE_ARN = re.compile(r"^arn:(aws[a-z-]*):sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,75}(\.fifo)?)$")


def queue_url(entry: str) -> str:
    """A queue URL as given, or the URL of a queue ARN."""
    match = _QUEUE_ARN.match(entry.strip())
    if not match:
        return entry.strip()
    partition, region, account, name = match.group(1, 2, 3, 4)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"


def is_fifo(url: str) -> bool:
    """A FIFO queue's name ends in .fifo (SQS requires the suffix). A MessageGroupId alone means a fair
    queue, not order: docs/aws-behaviour.md#sqs-message-group-standard."""
    return url.rstrip("/").endswith(".fifo")


def receive_size(url: str, free_slots: int) -> int:
    """MaxNumberOfMessages for one receive: the free slots (at most 10), but ONE on a FIFO queue.

    SQS returns as many messages of one message group as it can in a single receive, and no more of
    that group to anyone while any of them is in flight
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html).
    Taking one at a time keeps a group's messages strictly one after another without a queue of
    held messages in the worker: a failed or released message is the only one of its group in
    flight, so it comes back first; the messages behind it were never received, so their receive
    counts do not grow with its retries (they would follow it to the DLQ); and in-flight messages
    equal busy groups, which is what the publisher's FIFO cap and the simulator count
    (src/queue_autoscaler/scaling/fifo.py, qas/sim/fifo.py). The price is one receive per message on
    FIFO queues.
    """
    if free_slots < 1:
        raise ValueError("a receive needs a free slot")
    return 1 if is_fifo(url) else min(BATCH, free_slots)


class PriorityReceiver:
    def __init__(self, queue_urls: Sequence[str], wait_time_seconds: int) -> None:
        if not queue_urls:
            raise ValueError("at least one queue is needed")
        self.queue_urls = tuple(queue_urls)
        # Every queue gets a slice of the long poll: an idle round lasts about one wait in total.
        self._wait = math.ceil(wait_time_seconds / len(self.queue_urls)) if wait_time_seconds else 0

    def receive(self, sqs: SQSClient, free_slots: int, **params: Any) -> tuple[str, list[Any]]:
        """(queue URL, messages) from the first queue in priority order that has any."""
        for url in self.queue_urls:
            try:
                response = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=receive_size(url, free_slots),
                    WaitTimeSeconds=self._wait,
                    **params,
                )
            except ClientError as error:
                problem = permanent_error(error)
                if problem is not None:
                    raise QueueUnusable(url, problem) from error
                raise
            messages = response.get("Messages", [])
            if messages:
                return url, messages
        return self.queue_urls[0], []


def batches(items: Sequence[T], queue_of: Callable[[T], str]) -> Iterator[tuple[str, list[T]]]:
    """Items grouped by their queue, at most BATCH a group (batch calls take one queue each)."""
    by_queue: dict[str, list[T]] = {}
    for item in items:
        by_queue.setdefault(queue_of(item), []).append(item)
    for url, queued in by_queue.items():
        for start in range(0, len(queued), BATCH):
            yield url, queued[start : start + BATCH]
