"""scaling.backlog's metric and KeepWarm rules, and scaling.service_time's window, at their edges."""

from __future__ import annotations

import math

import pytest

from queue_autoscaler.scaling.backlog import backlog_per_instance, keeps_warm
from queue_autoscaler.scaling.service_time import Interval, estimate_service_time
from queue_autoscaler.scaling.target import DurationStats


@pytest.mark.parametrize(
    ("visible", "in_flight", "running", "metric"),
    [
        (0, 0, 2, 0.0),  # an empty queue reads 0, also with KeepWarm (it turns scale-in off instead)
        (3, 1, 2, 2.0),  # (3 + 1) / 2
        (3, 1, 0, 4.0),  # nothing running: divided by 1, so the datapoint exists and is large
        (0, 5, 4, 1.25),  # in-flight work counts: 5 / 4
    ],
)
def test_the_metric_is_visible_plus_in_flight_per_running_instance(
    visible: int, in_flight: int, running: int, metric: float
) -> None:
    assert backlog_per_instance(visible, in_flight, running) == metric


@pytest.mark.parametrize(("visible", "in_flight", "running"), [(-1, 0, 1), (0, -1, 1), (0, 0, -1)])
def test_negative_counts_are_refused(visible: int, in_flight: int, running: int) -> None:
    with pytest.raises(ValueError, match="counts cannot be negative"):
        backlog_per_instance(visible, in_flight, running)


def test_keep_warm_auto_when_a_cold_start_takes_more_than_sixty_percent_of_the_slo() -> None:
    assert keeps_warm(latency_slo_s=100, cold_start_s=60) is False  # exactly 0.6 x 100
    assert keeps_warm(latency_slo_s=100, cold_start_s=61) is True
    assert keeps_warm(latency_slo_s=300, cold_start_s=1) is False


def test_one_completion_is_enough_by_default() -> None:
    # 2 in flight for 30 s, 1 completed: 60 message-seconds per completion
    estimate = estimate_service_time([Interval(30, 2, 1)])
    assert estimate.stats == DurationStats(samples=1, mean_s=60.0)
    assert estimate.reason == "Little's law: 60 message-seconds in flight / 1 completed"


def test_exactly_min_completions_is_enough() -> None:
    estimate = estimate_service_time([Interval(60, 1, 10)] * 3, min_completions=30)
    assert estimate.stats == DurationStats(samples=30, mean_s=6.0, max_s=6.0)


def test_zero_completions_asked_for_still_need_one() -> None:
    estimate = estimate_service_time([Interval(60, 1, 0)], min_completions=0)
    assert estimate == type(estimate)(None, "0 messages completed in the window, fewer than 1")


def test_under_one_message_second_in_flight_is_a_measurement() -> None:
    # 0.01 in flight on average for 50 s: 0.5 message-seconds, 1 completion
    estimate = estimate_service_time([Interval(50, 0.01, 1)])
    assert estimate.stats is not None and estimate.stats.mean_s == pytest.approx(0.5)


def test_short_intervals_count_and_five_completions_make_a_spread_point() -> None:
    # 0.5 s with 4 in flight and 5 completions: 0.4 s each, its own spread point
    estimate = estimate_service_time([Interval(0.5, 4, 5), Interval(60, 1, 4)])
    # (2 + 60) / 9 = 6.89; the 60 s interval has 4 completions: no spread point
    assert estimate.stats == DurationStats(samples=9, mean_s=62 / 9, max_s=0.4)


@pytest.mark.parametrize("bad", [math.inf, -1.0, math.nan])
def test_intervals_with_unusable_numbers_are_left_out(bad: float) -> None:
    good = Interval(60, 1, 10)
    assert estimate_service_time([good, Interval(60, bad, 10)]) == estimate_service_time([good])
    assert estimate_service_time([good, Interval(60, 1, bad)]) == estimate_service_time([good])
