"""Mean service time without the worker's metric: Little's law on what SQS and the fleet report.

A consumer that is not our worker (Node.js, a compiler farm, a vendor binary) publishes no
MsgProcessingDuration, and the tuner would keep the initial target forever. Every message that is
in flight (received, not yet deleted) is being served, so Little's law, L = lambda * W, gives the
mean time in service W = L / lambda from two numbers the stack already has:

* L, the average number of messages in flight: the metric publisher's InFlightMessages (SQS
  ApproximateNumberOfMessagesNotVisible, read every minute);
* lambda, the completion rate: SQS NumberOfMessagesDeleted (AWS/SQS) per second, or the
  publisher's own before/after counts.

Over a window of intervals: W = sum(in_flight_i * seconds_i) / sum(completed_i), i.e. message-seconds
in service per completed message. Pure: the tuner (via adapters.metrics) and the simulator call it.

Biases, and why they are safe: a message waiting out a failure backoff or a delayed release is
invisible too, so failures inflate W; a lower target then asks for more capacity, never less.
Messages in service at the window's edges shift W by about (in flight at the edges) / completions:
small when the window holds many completions, hence `min_completions`. There is no percentile: the
largest per-interval estimate (intervals with at least `_SPREAD_MIN_COMPLETIONS` completions) stands
in for the maximum, and scaling.target caps the tail it derives from it at 3x the mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from queue_autoscaler.scaling.target import DurationStats

# Below this many completions, one interval's own ratio is too noisy to describe the spread.
_SPREAD_MIN_COMPLETIONS = 5


@dataclass(frozen=True)
class Interval:
    """One period of queue statistics."""

    seconds: float
    in_flight: float  # average messages in flight during the period
    completed: float  # messages deleted (finished) during the period


@dataclass(frozen=True)
class ServiceTimeEstimate:
    stats: DurationStats | None  # None: not enough data, see reason
    reason: str


def estimate_service_time(intervals: Sequence[Interval], min_completions: int = 1) -> ServiceTimeEstimate:
    """Little's law over the window; `stats.samples` is the number of completions it rests on."""
    usable = [
        interval
        for interval in intervals
        if interval.seconds > 0
        and all(math.isfinite(value) and value >= 0 for value in (interval.in_flight, interval.completed))
    ]
    if not usable:
        return ServiceTimeEstimate(None, "no queue statistics in the window")
    completed = sum(interval.completed for interval in usable)
    if completed < max(1, min_completions):
        return ServiceTimeEstimate(
            None, f"{completed:g} messages completed in the window, fewer than {max(1, min_completions)}"
        )
    in_service = sum(interval.in_flight * interval.seconds for interval in usable)
    if in_service <= 0:
        return ServiceTimeEstimate(None, "messages completed but none was ever seen in flight")
    mean = in_service / completed
    spread = [
        interval.in_flight * interval.seconds / interval.completed
        for interval in usable
        if interval.completed >= _SPREAD_MIN_COMPLETIONS
    ]
    stats = DurationStats(samples=round(completed), mean_s=mean, max_s=max(spread) if spread else None)
    return ServiceTimeEstimate(
        stats, f"Little's law: {in_service:g} message-seconds in flight / {completed:g} completed"
    )
