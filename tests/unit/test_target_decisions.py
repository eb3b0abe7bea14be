"""scaling.target on hand-worked numbers: every decision compared whole, every limit hit exactly.

Unless a test says otherwise the durations carry no percentile and no maximum, so the tail is the
mean, and the model plans the whole waiting time (queue_share = max_wait_share = 1):
target = concurrency x (slo - mean + mean) / mean = concurrency x slo / mean.
"""

from __future__ import annotations

import pytest

from queue_autoscaler.scaling.target import (
    Action,
    DurationStats,
    GuardRails,
    TargetDecision,
    TargetModel,
    decide_target,
    ideal_target,
    round_target,
)

WHOLE = {"queue_share": 1.0, "max_wait_share": 1.0}


def model(slo: float, concurrency: int = 1, **kw: float) -> TargetModel:
    return TargetModel(latency_slo_s=slo, concurrency=concurrency, **{**WHOLE, **kw})


def stats(samples: int = 100, mean: float = 10.0, **kw: float) -> DurationStats:
    return DurationStats(samples=samples, mean_s=mean, **kw)


# ------------------------------------------------------------------ round_target


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (0.0, 0.0),  # nothing to round (and no log10 of 0)
        (-2.5, -2.5),
        (0.12345, 0.123),  # 2 - floor(log10 0.12345) = 2 - (-1) = 3 digits
        (1.23456, 1.23),  # 2 - 0 = 2 digits
        (12.3456, 12.3),  # 2 - 1 = 1 digit
        (123.456, 123.0),  # 2 - 2 = 0 digits
        (1234.56, 1235.0),  # 2 - 3 = -1 digits, at least 0: a whole number
    ],
)
def test_targets_keep_three_significant_figures(value: float, rounded: float) -> None:
    assert round_target(value) == rounded


# ------------------------------------------------------------------ the tail


@pytest.mark.parametrize(
    ("durations", "tail"),
    [
        (DurationStats(10, 5.0, tail_s=9.0, max_s=100.0), 9.0),  # the percentile wins
        (DurationStats(10, 0.2, tail_s=0.5), 0.5),  # a percentile below 1 s is still one
        (DurationStats(10, 5.0, tail_s=2.0), 5.0),  # never below the mean
        (DurationStats(10, 5.0, tail_s=0.0, max_s=12.0), 12.0),  # a zero percentile is none: the max
        (DurationStats(10, 5.0, max_s=100.0), 15.0),  # the max, capped at 3 x 5
        (DurationStats(10, 0.2, max_s=0.5), 0.5),  # a max below 1 s (under the 0.6 cap)
        (DurationStats(10, 5.0, max_s=4.0), 5.0),  # never below the mean
        (DurationStats(10, 5.0), 5.0),  # nothing else known: the mean
    ],
)
def test_the_tail_is_the_percentile_then_the_capped_maximum_then_the_mean(
    durations: DurationStats, tail: float
) -> None:
    assert durations.tail_estimate() == tail


# ------------------------------------------------------------------ ideal_target


def test_a_mean_below_one_second_is_a_duration_like_any_other() -> None:
    # slo 10, mean = tail 0.5: wait 9.5; target = 1 x (9.5 + 0.5) / 0.5 = 20
    assert ideal_target(stats(mean=0.5), model(10)) == 20.0


def test_a_waiting_time_under_one_second_is_planned_as_it_is() -> None:
    # Given slo 10.5 and mean = tail 10: 0.5 s may be spent waiting
    # Default shares: planned = min(0.75 x 0.5, 0.4 x 0.5) = 0.2; target = (0.2 + 10) / 10 = 1.02
    assert ideal_target(stats(), TargetModel(10.5)) == pytest.approx(1.02)
    # A 1 s lead time reserves min(1 x 1, 0.5 x 0.5) = 0.25: planned = min(0.75 x 0.25, 0.2) = 0.1875
    assert ideal_target(stats(), TargetModel(10.5, capacity_lead_s=1)) == pytest.approx(1.01875)


def test_an_slo_shorter_than_the_tail_gives_a_target_below_one() -> None:
    # wait = 10 - 20 = -10: no reserve (max(wait, 0) = 0), planned = min(-10, 0) = -10 (whole budget)
    # target = (-10 + 10) / 10 = 0; the rails lift it to min_target in decide_target
    assert ideal_target(stats(mean=10.0, tail_s=20.0), model(10)) == 0.0


# ------------------------------------------------------------------ decide_target


def test_no_data_keeps_the_target() -> None:
    expected = TargetDecision(Action.KEEP, 7.0, 7.0, "no processing-duration data")
    assert decide_target(7.0, None, model(100)) == expected
    assert decide_target(7.0, stats(samples=0), model(100)) == expected


def test_too_few_samples_keep_the_target_and_say_how_many() -> None:
    decision = decide_target(7.0, stats(samples=29), model(100), GuardRails(min_samples=30))
    assert decision == TargetDecision(Action.KEEP, 7.0, 7.0, "too few samples (29 < 30)")


def test_exactly_min_samples_is_enough() -> None:
    # slo 100, mean 10: target = 100 / 10 = 10
    decision = decide_target(7.0, stats(samples=30), model(100), GuardRails(min_samples=30))
    assert decision == TargetDecision(Action.UPDATE, 7.0, 10.0, "recomputed from measured durations", 10.0)
    one = decide_target(7.0, stats(samples=1), model(100), GuardRails(min_samples=1))
    assert one.target == 10.0


@pytest.mark.parametrize("mean", [0.0, -1.0, float("nan")])
def test_an_invalid_mean_keeps_the_target_and_names_it(mean: float) -> None:
    decision = decide_target(7.0, stats(mean=mean), model(100))
    assert decision == TargetDecision(Action.KEEP, 7.0, 7.0, f"invalid mean duration {mean!r}")


def test_a_mean_under_one_second_is_used() -> None:
    # slo 2, mean 0.5: target = 2 / 0.5 = 4
    assert decide_target(3.0, stats(mean=0.5), model(2)) == TargetDecision(
        Action.UPDATE, 3.0, 4.0, "recomputed from measured durations", 4.0
    )


def test_a_current_target_under_one_is_accepted_and_raised() -> None:
    # current 0.5: raises are limited to x2 per run, 0.5 x 2 = 1
    decision = decide_target(0.5, stats(), model(100))
    assert decision == TargetDecision(Action.UPDATE, 0.5, 1.0, "raise limited to x2 per run", 10.0)


def test_a_raise_of_exactly_the_step_limit_is_not_limited() -> None:
    # ideal 10 = 5 x 2: the limit allows it whole
    assert decide_target(5.0, stats(), model(100)) == TargetDecision(
        Action.UPDATE, 5.0, 10.0, "recomputed from measured durations", 10.0
    )
    # ideal 10 > 4 x 2 = 8: limited
    assert decide_target(4.0, stats(), model(100)) == TargetDecision(
        Action.UPDATE, 4.0, 8.0, "raise limited to x2 per run", 10.0
    )


def test_a_cut_of_exactly_the_down_limit_is_not_limited() -> None:
    # ideal 10 = 80 / 8: allowed whole; from 81 the cut stops at 81 / 8 = 10.125 -> 10.1
    assert decide_target(80.0, stats(), model(100)) == TargetDecision(
        Action.UPDATE, 80.0, 10.0, "recomputed from measured durations", 10.0
    )
    assert decide_target(81.0, stats(), model(100)) == TargetDecision(
        Action.UPDATE, 81.0, 10.1, "cut limited to /8 per run", 10.0
    )


def test_the_rails_clamp_and_say_so() -> None:
    # ideal 10 above max_target 6: 6
    rails = GuardRails(max_target=6.0)
    assert decide_target(5.0, stats(), model(100), rails) == TargetDecision(
        Action.UPDATE, 5.0, 6.0, "clamped to [1, 6]", 10.0
    )
    # ideal 0 (slo shorter than the tail) below min_target 2: 2
    low = decide_target(3.0, stats(tail_s=20.0), model(10), GuardRails(min_target=2.0))
    assert low == TargetDecision(Action.UPDATE, 3.0, 2.0, "clamped to [2, 10000]", 0.0)


def test_a_step_limit_never_leaves_the_rails() -> None:
    # ideal 10; from 0.2 a raise stops at 0.2 x 2 = 0.4, below min_target 1: lifted to 1
    assert decide_target(0.2, stats(), model(100)) == TargetDecision(
        Action.UPDATE, 0.2, 1.0, "raise limited to x2 per run", 10.0
    )
    # slo 10 = mean: ideal (0 + 10) / 10 = 1; from 100 a cut stops at 100 / 8 = 12.5, above
    # max_target 10: lowered to 10
    assert decide_target(100.0, stats(), model(10), GuardRails(max_target=10.0)) == TargetDecision(
        Action.UPDATE, 100.0, 10.0, "cut limited to /8 per run", 1.0
    )


def test_a_change_of_exactly_the_minimum_ratio_is_made() -> None:
    # slo 105, mean 10: ideal 10.5, |10.5 - 10| / 10 = 0.05, not below min_change_ratio 0.05
    assert decide_target(10.0, stats(), model(105)) == TargetDecision(
        Action.UPDATE, 10.0, 10.5, "recomputed from measured durations", 10.5
    )


def test_a_smaller_change_is_skipped_and_logged_with_the_proposal() -> None:
    # ideal 10.4: 4% from 10
    assert decide_target(10.0, stats(), model(104)) == TargetDecision(
        Action.KEEP, 10.0, 10.0, "change below 5% (proposed 10.4)", 10.4
    )


def test_concurrency_multiplies_the_target() -> None:
    # 4 slots: 4 x 100 / 10 = 40, within 25 x 2 = 50
    assert decide_target(25.0, stats(), model(100, concurrency=4)).target == 40.0
