"""Message handlers and what they may raise.

A handler is `module:function` (WORKER_HANDLER), called with the parsed JSON body of one message.
Returning means success (the message is deleted). Raising `PermanentError` means the message can
never succeed (it goes the malformed way: straight on to the DLQ); any other exception is
transient (retried after a backoff). Long handlers may call `wait()` or check `cancelled()` so
that a job over WORKER_MAX_JOB_SECONDS, or still running when the shutdown grace ends, stops early.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any]], object]

_job = threading.local()


class PermanentError(Exception):
    """The message is bad (malformed, invalid): retrying it cannot help."""


class JobCancelled(Exception):  # noqa: N818 - reads better at the raise site than JobCancelledError
    """The worker gave up on this job (over the time limit, or shutting down)."""


@dataclass(frozen=True)
class MessageContext:
    """The message a handler thread is working on (command handlers pass it to the child)."""

    message_id: str
    receive_count: int
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # String and Number message attributes
    job_id: str | None = None


def bind_cancel_event(event: threading.Event | None, context: MessageContext | None = None) -> None:
    """Called by the worker in a handler thread before/after each job."""
    _job.cancel = event
    _job.context = context


def current_message() -> MessageContext | None:
    context: MessageContext | None = getattr(_job, "context", None)
    return context


def cancel_event() -> threading.Event | None:
    event: threading.Event | None = getattr(_job, "cancel", None)
    return event


def cancelled() -> bool:
    event: threading.Event | None = getattr(_job, "cancel", None)
    return event is not None and event.is_set()


def wait(seconds: float) -> None:
    """Sleep that ends early, raising JobCancelled, when the worker cancels the job."""
    event: threading.Event | None = getattr(_job, "cancel", None)
    if event is None:
        event = threading.Event()
    if event.wait(seconds):
        raise JobCancelled


def processing_seconds(body: dict[str, Any]) -> float:
    """The producer's `processing_seconds`: a non-negative finite number (docs/contracts.md)."""
    value = body.get("processing_seconds")
    # bool is an int in Python but `true` is not a duration.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PermanentError(f"processing_seconds must be a number, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise PermanentError(f"processing_seconds must be finite and >= 0, got {value!r}")
    return seconds


def simulated_work(body: dict[str, Any]) -> None:
    """The default handler: "works" for the message's processing_seconds."""
    wait(processing_seconds(body))
