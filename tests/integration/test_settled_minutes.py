"""FleetMetrics.settled_minutes on moto: real PutMetricData and GetMetricData, one-minute periods.

Checked first: moto's GetMetricData returns Minimum and Maximum per one-minute period, timestamped
at the period's start when StartTime is minute-aligned (the adapter aligns it). It ignores the
namespace when the query has dimensions, so the request itself is asserted in test_tuner_guards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from queue_autoscaler.adapters.metrics import FleetMetrics
from tests.integration.conftest import ASG_NAME, NAMESPACE
from tests.integration.test_tuner_guards import seed_capacity, seed_history

# Any instant: the count is relative to it, not to the clock.
NOW = datetime(2026, 3, 2, 10, 17, 41, tzinfo=UTC)
MINUTE = NOW.replace(second=0)


def settled_minutes(max_minutes: int = 30) -> int:
    return FleetMetrics(NAMESPACE, ASG_NAME).settled_minutes(NOW, max_minutes)


def test_a_cold_start_then_four_settled_minutes_count_four():
    # desired 1 and nothing running for 3 minutes (booting), then 1 of 1 for 4
    seed_history(NOW, [(0, 1)] * 3 + [(1, 1)] * 4)

    assert settled_minutes() == 4


def at_minutes_back(*backs: int) -> list[datetime]:
    """Mid-minute instants `back` complete minutes before NOW's minute ends (1: the most recent)."""
    return [MINUTE - timedelta(minutes=back, seconds=-30) for back in backs]


def test_a_missing_minute_ends_the_run():
    # settled for 7 minutes, but the publisher missed the third most recent: unknown is not settled
    for at in at_minutes_back(1, 2, 4, 5, 6, 7):
        seed_capacity(at, running=2, desired=2)

    assert settled_minutes() == 2


@pytest.mark.parametrize("published", ["RunningCapacity", "DesiredCapacity"])
def test_a_minute_with_only_one_of_the_two_series_ends_the_run(published):
    for at in at_minutes_back(2, 3, 4):
        seed_capacity(at, running=2, desired=2)
    [last] = at_minutes_back(1)
    FleetMetrics(NAMESPACE, ASG_NAME).put({published: 2}, last)

    assert settled_minutes() == 0


def test_the_current_minute_is_not_counted():
    seed_history(NOW, [(2, 2)] * 3)
    seed_capacity(MINUTE + timedelta(seconds=5), running=0, desired=2)  # incomplete: a minute in progress

    assert settled_minutes() == 3


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([(0, 0)] * 5, 0),  # scaled to zero: running 0 >= desired 0, but nothing was asked for
        ([(2, 0)] * 5, 0),  # draining to zero
        ([(0, 0)] * 2 + [(1, 1)] * 3, 3),  # woken from zero, settled since
    ],
)
def test_desired_zero_is_not_settled(history, expected):
    seed_history(NOW, history)

    assert settled_minutes() == expected


def test_the_worse_sample_of_a_minute_decides():
    # two samples in the most recent complete minute: 3 of 2, then 1 of 2 (an instance died)
    seed_history(NOW, [(2, 2)] * 3)
    seed_capacity(MINUTE - timedelta(seconds=10), running=1, desired=2)

    assert settled_minutes() == 0


def test_the_count_is_bounded_by_max_minutes():
    seed_history(NOW, [(3, 3)] * 8)

    assert settled_minutes(max_minutes=5) == 5
    assert settled_minutes(max_minutes=8) == 8
    with pytest.raises(ValueError, match="max_minutes"):
        settled_minutes(max_minutes=0)
