"""The consumer: receive, run handlers in a fixed pool of slots, heartbeat, delete, shut down cleanly.

Threads, not asyncio: handlers are arbitrary user code (blocking libraries, CPU work), and a
thread per slot runs them unchanged; boto3 is blocking too. Four kinds of thread share one lock:

* the receiver asks SQS for at most as many messages as there are free slots, so the worker never
  holds a message it cannot start at once (and only long-polls when a slot is free);
* WORKER_CONCURRENCY slot threads run the handler of one message each;
* the housekeeper, every tick, extends the visibility of held messages before it expires, fails
  jobs over WORKER_MAX_JOB_SECONDS, deletes finished messages in batches of 10, applies releases
  and backoffs in batches of 10, and flushes metrics once per WORKER_METRICS_INTERVAL;
* the main thread waits for SIGTERM/SIGINT and runs the shutdown sequence.

A message is "held" from its receive until its delete or release call returned; every held message
is heartbeated, so a finished message waiting for its batched delete cannot reappear either.
"""

from __future__ import annotations

import collections
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import FrameType
from typing import TYPE_CHECKING, Any

from worker import handlers
from worker.backoff import heartbeat_visibility, needs_extension, retry_visibility
from worker.metrics import Publisher, Recorder
from worker.protection import ProtectionState
from worker.queues import PriorityReceiver, batches
from worker.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("worker")

_BATCH = 10  # SQS batch limit (receive, delete, change visibility)
_MAX_RECEIVE_BACKOFF_SECONDS = 30.0
_DELETE_ATTEMPTS = 5


class State(StrEnum):
    PENDING = "pending"  # received, not started
    RUNNING = "running"
    DELETING = "deleting"  # succeeded, delete not yet confirmed
    RELEASING = "releasing"  # visibility change queued; heartbeat stops


class Outcome(StrEnum):
    PROCESSED = "processed"
    FAILED = "failed"  # transient: retried after a backoff
    MALFORMED = "malformed"  # not JSON, or the handler raised PermanentError: released at once
    TIMEOUT = "timeout"  # over WORKER_MAX_JOB_SECONDS: released with a backoff
    RELEASED = "released"  # shutdown: handed back untouched (or unfinished) with visibility 0


@dataclass(eq=False)
class Job:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at: float | None  # epoch seconds (SQS SentTimestamp)
    received_at: float  # monotonic, taken before the receive call: the lease started no earlier
    visible_until: float  # monotonic
    state: State = State.PENDING
    started_at: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    delete_attempts: int = 0
    job_id: str | None = None
    queue_url: str = ""  # the queue it came from (WORKER_QUEUE_URLS)


@dataclass(frozen=True)
class Change:
    """A queued ChangeMessageVisibility: a heartbeat extension or a release."""

    job: Job
    seconds: int
    release: bool


class Consumer:
    def __init__(
        self,
        settings: Settings,
        sqs: SQSClient,
        handler: handlers.Handler,
        *,
        protection: ProtectionState,
        recorder: Recorder,
        publisher: Publisher,
        api_calls: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self._settings = settings
        self._sqs = sqs
        self._handler = handler
        self._protection = protection
        self._recorder = recorder
        self._publisher = publisher
        self._api_calls = api_calls
        self._cond = threading.Condition()
        self._held: dict[str, Job] = {}  # by receipt handle
        self._pending: collections.deque[Job] = collections.deque()
        self._busy_threads = 0  # includes timed-out handlers that have not returned yet
        self._deletes: list[Job] = []
        self._changes: list[Change] = []
        self._stop = threading.Event()  # SIGTERM/SIGINT: stop receiving
        self._halt = threading.Event()  # end of the shutdown: housekeeper stops
        self._crashed = threading.Event()
        self._tick = min(0.25, settings.visibility_timeout / 8)
        self._last_flush = time.monotonic()
        self._queues = PriorityReceiver(settings.queues, settings.wait_time_seconds)

    # ---------------------------------------------------------------- lifecycle

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        threads = [
            threading.Thread(target=self._guard(self._slot_loop), name=f"slot-{i}", daemon=True)
            for i in range(self._settings.concurrency)
        ]
        receiver = threading.Thread(target=self._guard(self._receive_loop), name="receiver", daemon=True)
        housekeeper = threading.Thread(
            target=self._guard(self._housekeeping_loop), name="housekeeper", daemon=True
        )
        for thread in [*threads, receiver, housekeeper]:
            thread.start()
        log.info(
            "worker started",
            extra={
                "queue_url": self._settings.queue_url,
                "concurrency": self._settings.concurrency,
                "platform": str(self._settings.platform),
                "fleet_name": self._settings.fleet_name,
            },
        )
        while not self._stop.wait(1.0):
            pass
        self._shutdown(receiver, housekeeper)
        return 1 if self._crashed.is_set() else 0

    def request_stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stop.is_set():
            log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
        self.request_stop()

    def _guard(self, loop: Any) -> Any:
        def run() -> None:
            try:
                loop()
            except Exception:
                # A dead thread must not leave a worker that looks alive: shut down, exit 1, restart.
                log.exception("worker thread crashed", extra={"thread": threading.current_thread().name})
                self._crashed.set()
                self.request_stop()

        return run

    def _shutdown(self, receiver: threading.Thread, housekeeper: threading.Thread) -> None:
        deadline = time.monotonic() + self._settings.shutdown_grace_seconds
        with self._cond:
            # Received but not started: straight back to the queue.
            while self._pending:
                self._release(self._pending.popleft(), Outcome.RELEASED, 0)
            self._cond.notify_all()
        # Let running jobs finish (the housekeeper keeps heartbeating them) and let a long poll that
        # was in flight return, so that what it brings is released now rather than after a timeout.
        with self._cond:
            while (self._running_jobs() or receiver.is_alive()) and time.monotonic() < deadline:
                self._cond.wait(min(self._tick, max(0.0, deadline - time.monotonic())))
            for job in self._running_jobs():
                job.cancel.set()
                self._release(job, Outcome.RELEASED, 0)
        self._halt.set()
        housekeeper.join(timeout=5)
        # Final flush: a few rounds so that failed batch entries get their retries.
        for _ in range(_DELETE_ATTEMPTS):
            self._housekeeping_tick(final=True)
            with self._cond:
                if not self._deletes and not self._changes:
                    break
        if not self._publisher.flush():
            log.warning("metrics of the last interval were not published")
        with self._cond:
            left = len(self._held)
        self._protection.idle()
        extra: dict[str, Any] = {"messages_still_held": left}
        if self._api_calls is not None:
            extra["api_calls"] = self._api_calls()
        log.info("worker stopped", extra=extra)

    def _running_jobs(self) -> list[Job]:
        return [job for job in self._held.values() if job.state is State.RUNNING]

    # ---------------------------------------------------------------- receiving

    def _free_slots(self) -> int:
        return self._settings.concurrency - self._busy_threads - len(self._pending)

    def _receive_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            with self._cond:
                while self._free_slots() <= 0 and not self._stop.is_set():
                    self._cond.wait(1.0)
                wanted = min(_BATCH, self._free_slots())
            if self._stop.is_set():
                return
            log.debug("receiving", extra={"free_slots": wanted})
            lease_start = time.monotonic()
            try:
                queue_url, messages = self._queues.receive(
                    self._sqs,
                    wanted,
                    VisibilityTimeout=self._settings.visibility_timeout,
                    MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                )
            except Exception as error:  # botocore already retried; keep trying, say so
                failures += 1
                delay = min(_MAX_RECEIVE_BACKOFF_SECONDS, 2.0 ** min(failures - 1, 5))
                log.warning(
                    "cannot reach queue %s, retrying in %.0f s",
                    self._settings.queue_url,
                    delay,
                    extra={"error": str(error), "consecutive_failures": failures},
                )
                self._stop.wait(delay)
                continue
            failures = 0
            jobs = [self._job(message, lease_start, queue_url) for message in messages]
            if self._stop.is_set():
                # SIGTERM arrived during the long poll: these were never started.
                with self._cond:
                    for job in jobs:
                        self._held[job.receipt_handle] = job
                        self._release(job, Outcome.RELEASED, 0)
                    self._cond.notify_all()
                return
            if jobs:
                # Protect before starting work: idle -> busy (renewed if it expires).
                self._protection.busy()
                with self._cond:
                    for job in jobs:
                        self._held[job.receipt_handle] = job
                        self._pending.append(job)
                    self._cond.notify_all()
                continue
            with self._cond:
                idle = not self._held and self._busy_threads == 0
            if idle:
                # busy -> idle: nothing held, and the queue had nothing for a whole long poll.
                self._protection.idle()

    def _job(self, message: Any, lease_start: float, queue_url: str) -> Job:
        attributes = message.get("Attributes", {})
        sent_ms = attributes.get("SentTimestamp")
        return Job(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
            sent_at=int(sent_ms) / 1000 if sent_ms else None,
            received_at=lease_start,
            visible_until=lease_start + self._settings.visibility_timeout,
            queue_url=queue_url,
        )

    # ---------------------------------------------------------------- processing

    def _slot_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                job = self._pending.popleft()
                if self._stop.is_set():
                    self._release(job, Outcome.RELEASED, 0)
                    self._cond.notify_all()
                    continue
                job.state = State.RUNNING
                job.started_at = time.monotonic()
                self._busy_threads += 1
            try:
                outcome, error = self._process(job)
            finally:
                with self._cond:
                    self._busy_threads -= 1
                    self._cond.notify_all()
            finished = time.monotonic()
            with self._cond:
                if job.state is not State.RUNNING:
                    # Already given up on (timeout or end of grace): the result comes too late.
                    log.info(
                        "late result ignored", extra={"message_id": job.message_id, "outcome": str(outcome)}
                    )
                    continue
                assert job.started_at is not None
                self._finish(job, outcome, finished - job.started_at, error)
                self._cond.notify_all()

    def _process(self, job: Job) -> tuple[Outcome, str | None]:
        handlers.bind_cancel_event(job.cancel)
        try:
            try:
                body = json.loads(job.body)
            except ValueError:
                return Outcome.MALFORMED, "body is not JSON"
            if not isinstance(body, dict):
                return Outcome.MALFORMED, "body is not a JSON object"
            job.job_id = body.get("job_id") if isinstance(body.get("job_id"), str) else None
            self._handler(body)
            return Outcome.PROCESSED, None
        except handlers.PermanentError as error:
            return Outcome.MALFORMED, str(error)
        except handlers.JobCancelled:
            return Outcome.TIMEOUT, "cancelled"
        except Exception as error:  # user code: any exception is a transient failure
            log.warning("handler failed", exc_info=True, extra={"message_id": job.message_id})
            return Outcome.FAILED, f"{type(error).__name__}: {error}"
        finally:
            handlers.bind_cancel_event(None)

    def _finish(self, job: Job, outcome: Outcome, duration_s: float, error: str | None) -> None:
        """Called with the lock held, once per job."""
        latency_s = max(0.0, time.time() - job.sent_at) if job.sent_at is not None else None
        fields: dict[str, Any] = {
            "message_id": job.message_id,
            "job_id": job.job_id,
            "outcome": str(outcome),
            "duration_s": round(duration_s, 6),
            "receive_count": job.receive_count,
        }
        if outcome is Outcome.PROCESSED:
            fields["latency_s"] = None if latency_s is None else round(latency_s, 6)
            self._recorder.processed(duration_s, latency_s)
            job.state = State.DELETING
            self._deletes.append(job)
        else:
            fields["error"] = error
            self._recorder.failed()
            if outcome is Outcome.MALFORMED:
                # Visibility 0: SQS moves it to the DLQ after maxReceiveCount quick receives.
                self._release(job, outcome, 0, log_it=False)
            else:
                backoff = retry_visibility(
                    job.receive_count, self._settings.retry_base_seconds, self._settings.retry_max_seconds
                )
                fields["retry_in_s"] = backoff
                self._release(job, outcome, backoff, log_it=False)
        log.info("message %s", outcome, extra=fields)

    def _release(self, job: Job, outcome: Outcome, seconds: int, *, log_it: bool = True) -> None:
        """Queue a visibility change that hands the message back (lock held)."""
        job.state = State.RELEASING
        job.cancel.set()
        self._changes.append(Change(job, seconds, release=True))
        if log_it:
            log.info(
                "message %s",
                outcome,
                extra={
                    "message_id": job.message_id,
                    "job_id": job.job_id,
                    "outcome": str(outcome),
                    "receive_count": job.receive_count,
                    "visibility_s": seconds,
                },
            )

    # ---------------------------------------------------------------- housekeeping

    def _housekeeping_loop(self) -> None:
        while not self._halt.wait(self._tick):
            self._housekeeping_tick()

    def _housekeeping_tick(self, *, final: bool = False) -> None:
        now = time.monotonic()
        vt = self._settings.visibility_timeout
        with self._cond:
            for job in self._held.values():
                if (
                    job.state is State.RUNNING
                    and job.started_at is not None
                    and (now - job.started_at > self._settings.max_job_seconds)
                ):
                    self._recorder.failed()
                    backoff = retry_visibility(
                        job.receive_count, self._settings.retry_base_seconds, self._settings.retry_max_seconds
                    )
                    log.warning("job over WORKER_MAX_JOB_SECONDS", extra={"message_id": job.message_id})
                    self._release(job, Outcome.TIMEOUT, backoff)
                elif (
                    job.state is not State.RELEASING
                    and not final
                    and needs_extension(job.visible_until - now, vt)
                ):
                    seconds = heartbeat_visibility(vt, now - job.received_at)
                    if seconds > 0:
                        self._changes.append(Change(job, seconds, release=False))
            deletes, self._deletes = self._deletes, []
            changes, self._changes = self._changes, []
        self._delete(deletes)
        self._change_visibility(changes, now)
        if not final and now - self._last_flush >= self._settings.metrics_interval:
            self._last_flush = now
            self._publisher.flush()
        if not final:
            with self._cond:
                busy = bool(self._held)
            if busy:
                self._protection.busy()  # only calls out when a renewal is due

    def _queue_of(self, job: Job) -> str:
        return job.queue_url or self._settings.queue_url

    def _delete(self, jobs: list[Job]) -> None:
        for queue_url, batch in batches(jobs, self._queue_of):
            entries: list[Any] = [
                {"Id": str(i), "ReceiptHandle": job.receipt_handle} for i, job in enumerate(batch)
            ]
            try:
                response = self._sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
                failed: dict[str, Any] = {entry["Id"]: entry for entry in response.get("Failed", [])}
            except Exception as error:  # retried next tick; the heartbeat keeps the lease
                log.warning("delete batch failed", extra={"error": str(error), "messages": len(batch)})
                failed = {str(i): {"Code": "CallFailed", "SenderFault": False} for i in range(len(batch))}
            with self._cond:
                for i, job in enumerate(batch):
                    entry = failed.get(str(i))
                    if entry is None:
                        self._held.pop(job.receipt_handle, None)
                        continue
                    job.delete_attempts += 1
                    if entry.get("SenderFault") or job.delete_attempts >= _DELETE_ATTEMPTS:
                        # e.g. an expired receipt handle: the message may be processed again
                        # (at-least-once); nothing more this worker can do.
                        log.error(
                            "delete failed", extra={"message_id": job.message_id, "code": entry.get("Code")}
                        )
                        self._held.pop(job.receipt_handle, None)
                    else:
                        self._deletes.append(job)
                self._cond.notify_all()

    def _change_visibility(self, changes: list[Change], now: float) -> None:
        for queue_url, batch in batches(changes, lambda change: self._queue_of(change.job)):
            entries: list[Any] = [
                {
                    "Id": str(i),
                    "ReceiptHandle": change.job.receipt_handle,
                    "VisibilityTimeout": change.seconds,
                }
                for i, change in enumerate(batch)
            ]
            try:
                response = self._sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
                failed: dict[str, Any] = {entry["Id"]: entry for entry in response.get("Failed", [])}
            except Exception as error:  # an extension is retried next tick
                log.warning("visibility batch failed", extra={"error": str(error), "messages": len(batch)})
                failed = {str(i): {"Code": "CallFailed"} for i in range(len(batch))}
            with self._cond:
                for i, change in enumerate(batch):
                    entry = failed.get(str(i))
                    if change.release:
                        # Released or not, the message is no longer ours: if the call failed it
                        # reappears when its current visibility ends.
                        self._held.pop(change.job.receipt_handle, None)
                        if entry is not None:
                            log.warning(
                                "release failed",
                                extra={"message_id": change.job.message_id, "code": entry.get("Code")},
                            )
                    elif entry is None:
                        change.job.visible_until = now + change.seconds
                    else:
                        log.warning(
                            "heartbeat failed",
                            extra={"message_id": change.job.message_id, "code": entry.get("Code")},
                        )
                self._cond.notify_all()
