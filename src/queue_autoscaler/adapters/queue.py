"""SQS: the queue's approximate counts, and batched sends that never drop a message silently."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from queue_autoscaler.adapters import clients
from queue_autoscaler.adapters.errors import PartialFailureError
from queue_autoscaler.scaling.backlog import QueueCounts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH_SIZE = 10  # SendMessageBatch's limit: docs/aws-behaviour.md#sqs-batch-10


class SqsQueue:
    """One queue. AWS calls: sqs:GetQueueAttributes, sqs:SendMessage (SendMessageBatch)."""

    def __init__(
        self,
        url: str,
        client: SQSClient | None = None,
        *,
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.url = url
        self._client = client
        self._attempts = attempts
        self._sleep = sleep

    @property
    def client(self) -> SQSClient:
        return self._client or clients.sqs()

    @property
    def is_fifo(self) -> bool:
        return self.url.endswith(".fifo")

    def counts(self) -> QueueCounts:
        """Visible and in-flight messages now (not the CloudWatch SQS metrics, which lag)."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return QueueCounts(
            visible=int(attributes["ApproximateNumberOfMessages"]),
            in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def send(self, entries: Sequence[SendMessageBatchRequestEntryTypeDef]) -> int:
        """Send every entry, 10 per call; returns how many were sent.

        Entries in a batch's `Failed` list are sent again (with the same deduplication id on
        FIFO queues, so a retry cannot duplicate). Sender faults (a request SQS will never
        accept) and entries still failing after the last attempt raise PartialFailureError.
        """
        sent = 0
        for start in range(0, len(entries), BATCH_SIZE):
            try:
                sent += self._send_batch(list(entries[start : start + BATCH_SIZE]))
            except PartialFailureError as err:
                # Say how much did go out: a retried invocation will send those again.
                raise PartialFailureError(f"{err} ({sent} of {len(entries)} sent before this batch)") from err
        return sent

    def _send_batch(self, batch: list[SendMessageBatchRequestEntryTypeDef]) -> int:
        pending = {entry["Id"]: entry for entry in batch}
        sent = 0
        for attempt in range(1, self._attempts + 1):
            response = self.client.send_message_batch(QueueUrl=self.url, Entries=list(pending.values()))
            for ok in response.get("Successful", []):
                pending.pop(ok["Id"], None)
                sent += 1
            # HTTP 200 with per-entry failures: docs/aws-behaviour.md#sqs-batch-partial-failure
            failed = response.get("Failed", [])
            fatal = [f for f in failed if f.get("SenderFault")]
            if fatal:
                codes = sorted({f["Code"] for f in fatal})
                raise PartialFailureError(
                    f"SQS rejected {len(fatal)} of {len(batch)} messages as sender faults: {', '.join(codes)}"
                )
            if not pending:
                return sent
            if attempt < self._attempts:
                self._sleep(0.1 * 2**attempt)
        codes = sorted({f["Code"] for f in failed})
        raise PartialFailureError(
            f"{len(pending)} of {len(batch)} messages still failed after {self._attempts} attempts: "
            f"{', '.join(codes)}"
        )
