"""The consumer: receive, run handlers in a fixed pool of slots, heartbeat, delete, shut down cleanly.

Threads, not asyncio: handlers are arbitrary user code (blocking libraries, CPU work), and a
thread per slot runs them unchanged; boto3 is blocking too. Four kinds of thread share one lock:

* the receiver asks SQS for at most as many messages as there are free slots, so the worker never
  holds a message it cannot start at once (and only long-polls when a slot is free); on a FIFO
  queue for one, so that a message group never has two messages here (worker/queues.py);
* WORKER_CONCURRENCY slot threads run the handler of one message each;
* the heartbeater extends the visibility of held messages before it expires, and the settler
  deletes finished messages and applies releases and backoffs in batches of 10 (worker/lease.py);
* the timekeeper fails jobs over WORKER_MAX_JOB_SECONDS; the flusher publishes metrics once per
  WORKER_METRICS_INTERVAL and renews scale-in protection (never in the way of a heartbeat);
* the main thread waits for SIGTERM/SIGINT and runs the shutdown sequence.

A message is "held" from its receive until its delete or release call returned; every held message
is heartbeated, so a finished message waiting for its batched delete cannot reappear either.
"""

from __future__ import annotations

import collections
import json
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from types import FrameType
from typing import TYPE_CHECKING, Any

from worker import handlers
from worker.backoff import retry_visibility
from worker.command import job_id_of
from worker.lease import Job, Leases, State
from worker.metrics import Publisher, Recorder, flush_delays
from worker.protection import ProtectionState
from worker.queues import PriorityReceiver, QueueUnusable, is_fifo
from worker.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("worker")

_MAX_RECEIVE_BACKOFF_SECONDS = 30.0
# After the grace: time for the last deletes and releases (heartbeats stay on meanwhile).
_FINAL_SETTLE_SECONDS = 10.0


class Outcome(StrEnum):
    PROCESSED = "processed"
    FAILED = "failed"  # transient: retried after a backoff
    MALFORMED = "malformed"  # not JSON, or the handler raised PermanentError: released at once
    TIMEOUT = "timeout"  # over WORKER_MAX_JOB_SECONDS: released with a backoff
    RELEASED = "released"  # shutdown: handed back untouched (or unfinished) with visibility 0


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
        housekeeping_sqs: SQSClient | None = None,
    ) -> None:
        self._settings = settings
        self._sqs = sqs
        self._handler = handler
        self._protection = protection
        self._recorder = recorder
        self._publisher = publisher
        self._api_calls = api_calls
        self._cond = threading.Condition()
        self._leases = Leases(settings, housekeeping_sqs or sqs, self._cond)
        self._held = self._leases.held  # by receipt handle
        self._pending: collections.deque[Job] = collections.deque()
        # FIFO jobs given up on while their handler still runs: (outcome, visibility) to apply once
        # it returns (_give_up).
        self._given_up: dict[Job, tuple[Outcome, int]] = {}
        self._busy_threads = 0  # includes timed-out handlers that have not returned yet
        self._raw_body = bool(getattr(handler, "raw_body", False))  # command handlers take any body
        self._stop = threading.Event()  # SIGTERM/SIGINT or a termination notice: stop receiving
        self._retired = threading.Event()  # this version is no longer in force: receive nothing
        self._halt = threading.Event()  # end of the grace: timekeeper and flusher stop
        self._settled = threading.Event()  # after the final settle: heartbeater and settler stop
        self._crashed = threading.Event()
        self._unusable = threading.Event()  # SQS refused a queue for good: exit 2
        self._tick = self._leases.tick
        self._queues = PriorityReceiver(settings.queues, settings.wait_time_seconds)
        self.stop_reason: str | None = None

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
        keepers = [
            threading.Thread(target=self._guard(loop), name=name, daemon=True)
            for name, loop in (
                ("heartbeater", lambda: self._leases.heartbeat_loop(self._settled)),
                ("settler", lambda: self._leases.settle_loop(self._settled)),
                ("timekeeper", self._timekeeping_loop),
                ("flusher", self._flush_loop),
            )
        ]
        for thread in [*threads, receiver, *keepers]:
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
        self._shutdown(receiver, keepers)
        if self._unusable.is_set():
            return 2
        return 1 if self._crashed.is_set() else 0

    def request_stop(self, reason: str | None = None) -> None:
        """Drain: stop receiving, release what has not started, let running jobs finish (any thread)."""
        with self._cond:
            if reason and not self._stop.is_set():
                self.stop_reason = reason
                log.info("shutdown requested", extra={"reason": reason})
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def retire(self, reason: str) -> None:
        """Stop taking work, let running jobs finish, let protection go (worker/rollout_watch.py)."""
        if not self._retired.is_set():
            log.info("retiring", extra={"reason": reason})
        self._protection.retire()
        self._retired.set()
        with self._cond:
            self._cond.notify_all()

    def reinstate(self, reason: str) -> None:
        """Take work again: this version is back in force (a rollback)."""
        if self._retired.is_set():
            log.info("reinstated", extra={"reason": reason})
        self._protection.reinstate()
        self._retired.clear()
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

    def _shutdown(self, receiver: threading.Thread, keepers: list[threading.Thread]) -> None:
        deadline = time.monotonic() + self._settings.shutdown_grace_seconds
        with self._cond:
            # Received but not started: straight back to the queue.
            while self._pending:
                self._release(self._pending.popleft(), Outcome.RELEASED, 0)
            self._cond.notify_all()
        # Let running jobs finish (the heartbeater keeps their leases) and let a long poll that
        # was in flight return, so that what it brings is released now rather than after a timeout.
        with self._cond:
            while (self._running_jobs() or receiver.is_alive()) and time.monotonic() < deadline:
                self._cond.wait(min(self._tick, max(0.0, deadline - time.monotonic())))
            for job in self._running_jobs():
                self._give_up(job, Outcome.RELEASED, 0)
            # Cancelled command handlers stop their child (SIGTERM, then SIGKILL): wait for that,
            # so that no child outlives the worker.
            stop_by = time.monotonic() + self._settings.kill_grace_seconds + 5
            while self._busy_threads and time.monotonic() < stop_by:
                self._cond.wait(self._tick)
            # FIFO handlers that are still running: the process exits now, and they with it.
            for job, (outcome, seconds) in self._given_up.items():
                self._release(job, outcome, seconds)
            self._given_up.clear()
            # Last deletes and releases: the settler and heartbeater keep going meanwhile.
            settle_by = time.monotonic() + _FINAL_SETTLE_SECONDS
            while self._leases.unsettled() and time.monotonic() < settle_by:
                self._cond.wait(self._tick)
        self._halt.set()
        self._settled.set()
        for thread in keepers:
            thread.join(timeout=5)
        self._publisher.flush(final=True)
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
                while (self._free_slots() <= 0 or self._retired.is_set()) and not self._stop.is_set():
                    if self._retired.is_set() and not self._held and self._busy_threads == 0:
                        break
                    self._cond.wait(1.0)
                free_slots = self._free_slots()
            if self._stop.is_set():
                return
            if self._retired.is_set():
                # Retired and holding nothing: the protection goes, so the deployment can stop the task.
                self._protection.idle()
                with self._cond:
                    self._cond.wait(1.0)
                continue
            log.debug("receiving", extra={"free_slots": free_slots})
            lease_start = time.monotonic()
            try:
                queue_url, messages = self._queues.receive(
                    self._sqs,
                    free_slots,
                    VisibilityTimeout=self._settings.visibility_timeout,
                    MessageSystemAttributeNames=[
                        "ApproximateReceiveCount",
                        "SentTimestamp",
                        "MessageGroupId",
                    ],
                    MessageAttributeNames=["All"],
                )
            except QueueUnusable as unusable:
                # Deleted, access revoked, KMS key disabled: no retry brings it back, and a fleet
                # that keeps trying looks healthy and idle. Drain and exit like at start.
                log.error(
                    "queue cannot be used, stopping",
                    extra={
                        "queue_url": unusable.url,
                        "variable": self._settings.queues_variable,
                        "error": unusable.problem,
                    },
                )
                self._unusable.set()
                self.request_stop("queue cannot be used")
                return
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
            if self._stop.is_set() or self._retired.is_set():
                # SIGTERM or retirement arrived during the long poll: these were never started.
                with self._cond:
                    for job in jobs:
                        self._leases.hold(job)
                        self._release(job, Outcome.RELEASED, 0)
                    self._cond.notify_all()
                if self._stop.is_set():
                    return
                continue
            if jobs:
                # Protect before starting work: idle -> busy (renewed if it expires).
                self._protection.busy()
                with self._cond:
                    for job in jobs:
                        self._leases.hold(job)
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
        # Binary attributes have no text form for an environment variable: skipped.
        user_attributes = {
            name: value["StringValue"]
            for name, value in message.get("MessageAttributes", {}).items()
            if "StringValue" in value
        }
        return Job(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
            sent_at=int(sent_ms) / 1000 if sent_ms else None,
            received_at=lease_start,
            visible_until=lease_start + self._settings.visibility_timeout,
            queue_url=queue_url,
            attributes=user_attributes,
            group_id=attributes.get("MessageGroupId"),
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
                given_up = self._given_up.pop(job, None)
                if given_up is not None or job.state is not State.RUNNING:
                    # Already given up on (timeout or end of grace): the result comes too late. A
                    # FIFO message given up on goes back only now that its handler stopped (_give_up).
                    log.info(
                        "late result ignored",
                        extra={
                            "message_id": job.message_id,
                            "outcome": str(outcome),
                            **self._group_field(job),
                        },
                    )
                    if given_up is not None:
                        self._release(job, *given_up)
                        self._cond.notify_all()
                    continue
                assert job.started_at is not None
                self._finish(job, outcome, finished - job.started_at, error)
                self._cond.notify_all()

    def _process(self, job: Job) -> tuple[Outcome, str | None]:
        job.job_id = job_id_of(job.body)
        context = handlers.MessageContext(
            job.message_id, job.receive_count, job.body, job.attributes, job.job_id
        )
        handlers.bind_cancel_event(job.cancel, context)
        try:
            body: Any = {}
            if not self._raw_body:
                try:
                    body = json.loads(job.body)
                except ValueError:
                    return Outcome.MALFORMED, "body is not JSON"
                if not isinstance(body, dict):
                    return Outcome.MALFORMED, "body is not a JSON object"
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
            **self._group_field(job),
        }
        if outcome is Outcome.PROCESSED:
            fields["latency_s"] = None if latency_s is None else round(latency_s, 6)
            self._recorder.processed(duration_s, latency_s)
            self._leases.delete(job)
        else:
            fields["error"] = error
            self._recorder.failed()
            if outcome is Outcome.MALFORMED:
                # Visibility 0: SQS moves it to the DLQ after maxReceiveCount quick receives.
                self._release(job, outcome, 0, log_it=False)
            else:
                backoff = self._backoff(job)
                fields["retry_in_s"] = backoff
                self._release(job, outcome, backoff, log_it=False)
        log.info("message %s", outcome, extra=fields)

    def _backoff(self, job: Job) -> int:
        settings = self._settings
        return retry_visibility(job.receive_count, settings.retry_base_seconds, settings.retry_max_seconds)

    def _release(self, job: Job, outcome: Outcome, seconds: int, *, log_it: bool = True) -> None:
        """Queue a visibility change that hands the message back (lock held)."""
        self._leases.release(job, seconds)
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
                    **self._group_field(job),
                },
            )

    @staticmethod
    def _group_field(job: Job) -> dict[str, str]:
        return {"message_group_id": job.group_id} if job.group_id is not None else {}

    def _give_up(self, job: Job, outcome: Outcome, seconds: int) -> None:
        """Stop waiting for a running job: cancel it and hand its message back (lock held).

        On a FIFO queue the message goes back only once the handler has returned (a command is
        stopped within WORKER_KILL_GRACE_SECONDS; a Python handler that ignores the cancellation
        holds it until it returns, at most the 12-hour lease): while it runs, its lease keeps its
        message group locked in SQS, so the group's next message cannot start beside it, here or
        on another worker. A standard queue gets its message back at once.
        """
        job.cancel.set()
        if is_fifo(job.queue_url):
            self._given_up.setdefault(job, (outcome, seconds))
        else:
            self._release(job, outcome, seconds)

    # ---------------------------------------------------------------- housekeeping

    def _timekeeping_loop(self) -> None:
        while not self._halt.wait(self._tick):
            now = time.monotonic()
            with self._cond:
                for job in self._running_jobs():
                    if job in self._given_up:
                        continue
                    if job.started_at is not None and now - job.started_at > self._settings.max_job_seconds:
                        self._recorder.failed()
                        log.warning("job over WORKER_MAX_JOB_SECONDS", extra={"message_id": job.message_id})
                        self._give_up(job, Outcome.TIMEOUT, self._backoff(job))
                self._cond.notify_all()

    def _flush_loop(self) -> None:
        delays = flush_delays(self._settings.metrics_interval, random.Random())
        while not self._halt.wait(next(delays)):
            now = time.monotonic()
            with self._cond:
                started = [job.started_at for job in self._running_jobs() if job.started_at is not None]
            self._publisher.flush(len(started), sum(now - at for at in started))
            with self._cond:
                busy = bool(self._held)
            if busy:
                self._protection.busy()  # only calls out when a renewal is due
