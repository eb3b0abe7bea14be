"""Little's law estimate of the mean service time (scaling.service_time)."""

from __future__ import annotations

import heapq
import math
import random

import pytest

from queue_autoscaler.scaling.service_time import Interval, estimate_service_time
from queue_autoscaler.scaling.target import DurationStats


def test_mean_is_message_seconds_in_flight_per_completion():
    estimate = estimate_service_time([Interval(60, 4, 48), Interval(60, 2, 12)], min_completions=1)
    # (4 x 60 + 2 x 60) / (48 + 12) = 6 s; per-interval estimates 5 s and 10 s: the larger is the spread
    assert estimate.stats == DurationStats(samples=60, mean_s=6.0, tail_s=None, max_s=10.0)
    assert estimate.reason.startswith("Little's law")


@pytest.mark.parametrize(
    ("intervals", "reason"),
    [
        ([], "no queue statistics in the window"),
        ([Interval(60, 0, 0)] * 10, "0 messages completed in the window, fewer than 30"),
        ([Interval(60, 1, 10)], "10 messages completed in the window, fewer than 30"),
        ([Interval(60, 0, 40)], "messages completed but none was ever seen in flight"),
        ([Interval(60, math.nan, 40), Interval(0, 1, 40)], "no queue statistics in the window"),
    ],
)
def test_not_enough_data_says_why(intervals, reason):
    estimate = estimate_service_time(intervals, min_completions=30)
    assert estimate.stats is None
    assert estimate.reason == reason


def test_few_completions_per_interval_give_no_spread():
    estimate = estimate_service_time([Interval(60, 1, 4)] * 10, min_completions=30)
    assert estimate.stats is not None
    assert (estimate.stats.mean_s, estimate.stats.max_s) == (15.0, None)


def _simulate(seed: int, slots: int, arrivals_per_s: float, mean_service_s: float, minutes: int):
    """An M/M/c queue; per minute, the exact average in flight (in service) and the completions."""
    rng = random.Random(seed)
    t, horizon = 0.0, minutes * 60.0
    busy: list[float] = []  # finish times of messages in service
    waiting: list[float] = []
    events: list[tuple[float, str]] = []
    while t < horizon:
        t += rng.expovariate(arrivals_per_s)
        heapq.heappush(events, (t, "arrive"))
    services: list[float] = []
    in_flight_seconds = [0.0] * minutes
    completed = [0] * minutes
    now = 0.0
    in_flight = 0  # in service: what SQS counts as not visible
    while events:
        at, kind = heapq.heappop(events)
        if at >= horizon:
            break
        # message-seconds in flight, split at minute boundaries, up to this event
        while now < at:
            step = min(at, (math.floor(now / 60) + 1) * 60) - now
            in_flight_seconds[int(now // 60)] += in_flight * step
            now += step
        if kind == "arrive":
            waiting.append(at)
        else:
            in_flight -= 1
            completed[int(at // 60)] += 1
            busy.remove(at)
        while waiting and len(busy) < slots:
            waiting.pop(0)
            service = rng.expovariate(1 / mean_service_s)
            services.append(service)
            busy.append(at + service)
            in_flight += 1
            heapq.heappush(events, (at + service, "finish"))
    intervals = [Interval(60, in_flight_seconds[m] / 60, completed[m]) for m in range(minutes)]
    return intervals, sum(services) / len(services)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_estimate_matches_the_true_mean_of_a_simulated_queue(seed):
    # 8 slots, 70% busy, mean service 12 s, a 10-minute window (the tuner's default lookback)
    intervals, true_mean = _simulate(
        seed, slots=8, arrivals_per_s=8 * 0.7 / 12, mean_service_s=12, minutes=10
    )
    estimate = estimate_service_time(intervals, min_completions=30)
    assert estimate.stats is not None
    assert estimate.stats.mean_s == pytest.approx(true_mean, rel=0.1)
