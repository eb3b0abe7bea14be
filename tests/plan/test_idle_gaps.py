"""The idle hold derived from a load's gaps, on hand-made gap lists with hand-computed answers."""

from __future__ import annotations

import pytest

from qas.plan.idle_gaps import (
    Gap,
    burst_instances,
    derive_hold,
    hold_costs,
    idle_gaps,
    late_budget,
    pool_sizes,
    refill_demand,
)

# Busy [0,10], [100,110], [700,710], [4300,4310]: gaps 90, 590 and 3590 s. SLO 120 s, cold start
# 60 + 90 s: a message arriving as a busy period starts waits 150 s, + 10 s > 120: late.
ARRIVALS = (0.0, 100.0, 700.0, 4300.0)
PROCESSING = (10.0, 10.0, 10.0, 10.0)
GAPS = (Gap(90.0, 1), Gap(590.0, 1), Gap(3590.0, 1))
BOOT = 90.0
MINUTES = range(1, 61)


def test_the_gaps_between_busy_periods_and_the_messages_a_cold_start_makes_late() -> None:
    found = idle_gaps(ARRIVALS, PROCESSING, slo_s=120, cold_start_s=150)
    assert found.gaps == GAPS
    assert found.first_late == 1
    assert found.starts == ARRIVALS
    # A longer SLO: nothing late (150 + 10 <= 160)
    assert [g.late_if_cold for g in idle_gaps(ARRIVALS, PROCESSING, 160, 150).gaps] == [0, 0, 0]


def test_overlapping_jobs_are_one_busy_period_and_jobs_over_the_slo_are_not_counted() -> None:
    # [0,10] and [5,15] overlap: one gap, 15 -> 100; the job at 100 takes 200 s, over the SLO anyway,
    # the one at 120 waits until 250 and takes 10: late.
    found = idle_gaps((0.0, 5.0, 100.0, 120.0), (10.0, 10.0, 200.0, 10.0), slo_s=120, cold_start_s=150)
    assert found.gaps == (Gap(85.0, 1),)
    assert found.starts == (0.0, 100.0)
    assert idle_gaps((), (), 120, 150).gaps == ()
    # A message arriving as the last one ends: no gap (the fleet is never idle)
    assert idle_gaps((0.0, 10.0), (10.0, 10.0), 120, 150).gaps == ()


def test_each_hold_costs_the_gaps_it_bridges_and_a_cold_start_for_the_others() -> None:
    one, two, ten, hour = hold_costs(GAPS, BOOT, [1, 2, 10, 60])
    assert (one.instance_seconds, one.late, one.bridged) == (3 * (60 + 90), 3, 0)
    assert (two.instance_seconds, two.late, two.bridged) == (90 + 2 * (120 + 90), 2, 1)
    assert (ten.instance_seconds, ten.late, ten.bridged) == (90 + 590 + (600 + 90), 1, 2)
    assert (hour.instance_seconds, hour.late, hour.bridged) == (90 + 590 + 3590, 0, 3)
    # A gap exactly as long as the hold is bridged
    (exact,) = hold_costs((Gap(120.0, 2),), BOOT, [2])
    assert (exact.instance_seconds, exact.late, exact.bridged) == (120.0, 0, 1)


@pytest.mark.parametrize(
    ("allowed_late", "minutes", "cost"),
    [
        (3, 1, 450.0),  # every gap may pay a cold start: the shortest hold
        (2, 2, 510.0),  # one gap must be bridged: the 90 s one, by 2 minutes
        (1, 10, 1370.0),  # two: the 590 s one too, by 10 minutes
        (0, 60, 4270.0),  # none late: the hour bridges 3590 s
        (-1, 60, 4270.0),  # out of reach: the fewest late
    ],
)
def test_the_derived_hold_is_the_cheapest_within_the_late_budget(
    allowed_late: int, minutes: int, cost: float
) -> None:
    chosen = derive_hold(GAPS, BOOT, allowed_late, MINUTES, default=5)
    assert (chosen.minutes, chosen.instance_seconds) == (minutes, cost)


def test_a_load_without_gaps_keeps_the_default_and_a_tie_goes_to_it() -> None:
    assert derive_hold((), BOOT, 0, MINUTES, default=5).minutes == 5
    # A 120 s gap bridged by 2 and by 3 minutes alike, for 120 s each: the tie goes to the default
    assert derive_hold((Gap(120.0, 0),), 1000.0, 0, [2, 3], default=3).minutes == 3
    with pytest.raises(ValueError, match="no hold"):
        derive_hold(GAPS, BOOT, 0, [], default=5)


def test_the_late_budget_is_the_goal_less_what_misses_anyway() -> None:
    assert late_budget(400, 0.99, already_late=1) == 3
    assert late_budget(100, 0.99, already_late=0) == 1
    assert late_budget(99, 0.99, already_late=0) == 0


def test_bursts_in_instances_and_the_pool_sizes_they_suggest() -> None:
    arrivals = (0.0, 0.0, 0.0, 0.0, 1000.0)
    sizes = burst_instances(arrivals, (60.0,) * 5, (0.0, 1000.0), window_s=100, concurrency=2)
    assert sizes == [2, 1]  # 240 s of work / (2 slots x 100 s) -> 2; 60 s -> 1
    assert pool_sizes([2, 1, 5, 3], limit=4) == [1, 2, 4]  # 1, the median (2), the largest (5 -> 4)
    assert pool_sizes([3, 3], limit=10, given=7) == [1, 3, 7]
    assert pool_sizes([], limit=10) == [1]
    assert pool_sizes([1, 1, 1], limit=10, demand=2) == [1, 2]


def test_the_refill_demand_sums_the_bursts_within_one_boot() -> None:
    # Starts at 0, 100, 250 and 1000 asking 1, 2, 1 and 3: within 300 s of boot, 0..250 ask 4.
    assert refill_demand((0.0, 100.0, 250.0, 1000.0), (1, 2, 1, 3), refill_s=300) == 4
    assert refill_demand((0.0, 100.0, 250.0, 1000.0), (1, 2, 1, 3), refill_s=250) == 3  # 250 is past 0's
    assert refill_demand((), (), refill_s=300) == 0
