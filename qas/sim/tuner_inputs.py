"""What the simulated tuner measures at time t, per lookback window (in minutes), as the tuner Lambda
reads it: the durations completed in the window ("worker": MsgProcessingDuration, exact percentiles as
CloudWatch computes them from the worker's Values/Counts), or Little's law on the publisher's in-flight
samples and the completions per period ("queue": scaling.service_time, the tuner's fallback)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from qas.sim.results import duration_stats
from queue_autoscaler.scaling.service_time import Interval, estimate_service_time
from queue_autoscaler.scaling.target import DurationStats

StatsFor = Callable[[int], DurationStats | None]


def completed_stats(
    t: float, completed_at: Sequence[float], durations: Sequence[float], tail_percentile: float
) -> StatsFor:
    """The durations of the messages completed in the window (``completed_at`` ascending)."""

    def stats_for(minutes: int) -> DurationStats | None:
        first = bisect.bisect_right(completed_at, t - minutes * 60.0)
        return duration_stats(list(durations[first:]), tail_percentile)

    return stats_for


def queue_stats(
    t: float, period_s: float, completed_at: Sequence[float], samples: Sequence[tuple[float, int]]
) -> StatsFor:
    """Little's law per window: the in-flight count sampled each period (``samples``: (tick, in
    flight)), the completions between."""

    def stats_for(minutes: int) -> DurationStats | None:
        start = t - minutes * 60.0
        intervals = [
            Interval(
                seconds=period_s,
                in_flight=in_flight,
                completed=bisect.bisect_right(completed_at, at)
                - bisect.bisect_right(completed_at, at - period_s),
            )
            for at, in_flight in samples
            if at > start
        ]
        return estimate_service_time(intervals).stats

    return stats_for
