"""The leases on held messages: heartbeats on one thread, deletes and releases on another.

Why two threads: a heartbeat must never wait behind anything else. In an independent
fault-injection run one thread did deletes, heartbeats, releases and PutMetricData in
turn, and with CloudWatch alone slow (4-5 s a call, visibility 6 s) leases expired under running
jobs, which the same worker then started again. Now the heartbeater only extends leases (deciding
which ones at call time, not before someone else's slow call), the settler deletes and releases,
and metrics flush on a third thread (worker/consumer.py).

Error rules (SQS batch entries carry SenderFault):
* a whole call that fails (throttling, 5xx, timeout, no network) is transient: deletes are retried
  with backoff, heartbeats keep running, until the lease's 12-hour limit from the receive;
* an entry failing with SenderFault (ReceiptHandleIsInvalid, MessageNotInflight) is permanent: the
  message is no longer ours; it is logged once and never heartbeated again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from worker.backoff import heartbeat_visibility, needs_extension
from worker.queues import batches, is_fifo
from worker.settings import MAX_VISIBILITY_SECONDS, Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("worker")

_DELETE_BACKOFF_BASE_SECONDS = 0.5
_DELETE_BACKOFF_MAX_SECONDS = 15.0


class State(StrEnum):
    PENDING = "pending"  # received, not started
    RUNNING = "running"
    DELETING = "deleting"  # succeeded, delete not yet confirmed
    RELEASING = "releasing"  # visibility change queued; heartbeat stops


@dataclass(eq=False)
class Job:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at: float | None  # epoch seconds (SQS SentTimestamp)
    received_at: float  # monotonic, taken before the receive call: the lease started no earlier
    visible_until: float  # monotonic
    attributes: Mapping[str, str] = field(default_factory=dict)
    state: State = State.PENDING
    started_at: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    job_id: str | None = None
    lost: bool = False  # SQS said the receipt handle is no longer valid: no more heartbeats
    delete_attempts: int = 0
    retry_at: float = 0.0  # monotonic: next delete attempt
    queue_url: str = ""  # the queue it came from (WORKER_QUEUE_URLS); "" = QUEUE_URL
    group_id: str | None = None  # MessageGroupId (FIFO queues)


@dataclass(frozen=True)
class Release:
    job: Job
    seconds: int


Failures = dict[str, Any]  # batch entry id -> failure entry


class Leases:
    """Held messages and their pending deletes/releases; every method but the loops needs `cond` held."""

    def __init__(self, settings: Settings, sqs: SQSClient, cond: threading.Condition) -> None:
        self._settings = settings
        self._sqs = sqs
        self.cond = cond
        self.held: dict[str, Job] = {}  # by receipt handle
        self._deletes: list[Job] = []
        self._releases: list[Release] = []
        self.tick = min(0.25, settings.visibility_timeout / 8)
        self._settle_now = threading.Event()

    # ---------------------------------------------------------------- called with the lock held

    def hold(self, job: Job) -> None:
        self.held[job.receipt_handle] = job

    def delete(self, job: Job) -> None:
        job.state = State.DELETING
        self._deletes.append(job)
        if is_fifo(self._queue_of(job)):
            # The group's next message is handed out only once this delete lands: do not wait a tick
            # (docs/aws-behaviour.md#sqs-fifo-group-batch).
            self._settle_now.set()

    def release(self, job: Job, seconds: int) -> None:
        job.state = State.RELEASING
        job.cancel.set()
        self._releases.append(Release(job, seconds))

    def unsettled(self) -> bool:
        """A delete or release is queued or in flight (a held job leaves `held` when its call returned)."""
        return any(job.state in (State.DELETING, State.RELEASING) for job in self.held.values())

    # ---------------------------------------------------------------- threads

    def heartbeat_loop(self, halt: threading.Event) -> None:
        while not halt.wait(self.tick):
            self.heartbeat()

    def settle_loop(self, halt: threading.Event) -> None:
        while not halt.is_set():
            self._settle_now.wait(self.tick)
            self._settle_now.clear()
            if not halt.is_set():
                self.settle()

    def heartbeat(self) -> None:
        """Extend every held lease past half its timeout (not released, not lost)."""
        now = time.monotonic()
        vt = self._settings.visibility_timeout
        with self.cond:
            due = [
                (job, seconds)
                for job in self.held.values()
                if job.state is not State.RELEASING
                and not job.lost
                and needs_extension(job.visible_until - now, vt)
                and (seconds := heartbeat_visibility(vt, now - job.received_at)) > 0
            ]
        for queue_url, batch in batches(due, lambda item: self._queue_of(item[0])):
            failed = self._call(
                "heartbeat",
                self._sqs.change_message_visibility_batch,
                [
                    {"Id": str(i), "ReceiptHandle": job.receipt_handle, "VisibilityTimeout": seconds}
                    for i, (job, seconds) in enumerate(batch)
                ],
                queue_url,
            )
            with self.cond:
                for i, (job, seconds) in enumerate(batch):
                    entry = failed.get(str(i))
                    if entry is None:
                        job.visible_until = now + seconds
                    elif entry.get("SenderFault") and self.held.get(job.receipt_handle) is job:
                        self._lose(job, "heartbeat", entry)
                self.cond.notify_all()

    def settle(self) -> None:
        """Apply due deletes and all queued releases, in batches of 10."""
        now = time.monotonic()
        with self.cond:
            deletes = [job for job in self._deletes if job.retry_at <= now]
            self._deletes = [job for job in self._deletes if job.retry_at > now]
            releases, self._releases = self._releases, []
        for queue_url, jobs in batches(deletes, self._queue_of):
            self._delete(jobs, queue_url)
        for queue_url, changes in batches(releases, lambda change: self._queue_of(change.job)):
            self._release(changes, queue_url)

    # ---------------------------------------------------------------- calls

    def _queue_of(self, job: Job) -> str:
        return job.queue_url or self._settings.queue_url

    def _call(self, what: str, operation: Callable[..., Any], entries: list[Any], queue_url: str) -> Failures:
        try:
            response = operation(QueueUrl=queue_url, Entries=entries)
        except Exception as error:  # transient whatever it is: retried, the heartbeat keeps the lease
            log.warning(f"{what} batch failed", extra={"error": str(error), "messages": len(entries)})
            return {str(i): {"Code": "CallFailed", "SenderFault": False} for i in range(len(entries))}
        return {entry["Id"]: entry for entry in response.get("Failed", [])}

    def _delete(self, batch: list[Job], queue_url: str) -> None:
        failed = self._call(
            "delete",
            self._sqs.delete_message_batch,
            [{"Id": str(i), "ReceiptHandle": job.receipt_handle} for i, job in enumerate(batch)],
            queue_url,
        )
        now = time.monotonic()
        with self.cond:
            for i, job in enumerate(batch):
                entry = failed.get(str(i))
                if entry is None:
                    self.held.pop(job.receipt_handle, None)
                elif entry.get("SenderFault"):
                    # e.g. the lease expired and another receive got a new handle: the message may
                    # be processed again (at-least-once); nothing more this worker can do.
                    self._lose(job, "delete", entry)
                    self.held.pop(job.receipt_handle, None)
                elif now - job.received_at >= MAX_VISIBILITY_SECONDS:
                    log.error(
                        "delete gave up at the 12-hour lease limit", extra={"message_id": job.message_id}
                    )
                    self.held.pop(job.receipt_handle, None)
                else:
                    job.delete_attempts += 1
                    job.retry_at = now + min(
                        _DELETE_BACKOFF_MAX_SECONDS,
                        _DELETE_BACKOFF_BASE_SECONDS * 2.0 ** min(job.delete_attempts, 10),
                    )
                    self._deletes.append(job)
            self.cond.notify_all()

    def _release(self, batch: list[Release], queue_url: str) -> None:
        failed = self._call(
            "release",
            self._sqs.change_message_visibility_batch,
            [
                {
                    "Id": str(i),
                    "ReceiptHandle": change.job.receipt_handle,
                    "VisibilityTimeout": change.seconds,
                }
                for i, change in enumerate(batch)
            ],
            queue_url,
        )
        now = time.monotonic()
        with self.cond:
            for i, change in enumerate(batch):
                entry = failed.get(str(i))
                job = change.job
                if entry is not None and not entry.get("SenderFault") and now < job.visible_until:
                    self._releases.append(change)  # still ours for a while: try again
                    continue
                # Released or not, the message is no longer ours: if the call failed for good it
                # reappears when its current visibility ends.
                self.held.pop(job.receipt_handle, None)
                if entry is not None:
                    log.warning(
                        "release failed", extra={"message_id": job.message_id, "code": entry.get("Code")}
                    )
            self.cond.notify_all()

    def _lose(self, job: Job, what: str, entry: Mapping[str, Any]) -> None:
        if not job.lost:
            log.warning(
                f"{what} rejected: message no longer held",
                extra={"message_id": job.message_id, "code": entry.get("Code"), "state": str(job.state)},
            )
        job.lost = True
