"""The tuner's formula and guard rails."""

from __future__ import annotations

import math

import pytest

from queue_autoscaler.scaling.slo_guard import DEFAULT_SHARE as GUARD_SHARE
from queue_autoscaler.scaling.slo_guard import waiting_budget
from queue_autoscaler.scaling.target import (
    Action,
    DurationStats,
    GuardRails,
    TargetModel,
    aws_guidance_target,
    decide_target,
    ideal_target,
)


def test_aws_guidance_matches_the_user_guide_example() -> None:
    # 10 s acceptable latency, 0.1 s per message: target 100.
    assert aws_guidance_target(10, 0.1) == pytest.approx(100)
    with pytest.raises(ValueError):
        aws_guidance_target(10, 0)


def test_formula_without_lead_time() -> None:
    # wait = 100 - 12 = 88 s; planned = min(queue_share * wait, max_wait_share * wait)
    # target = c * (planned + mean) / mean
    stats = DurationStats(samples=100, mean_s=10, tail_s=12)
    uncapped = TargetModel(latency_slo_s=100, concurrency=2, max_wait_share=1.0)
    assert ideal_target(stats, uncapped) == pytest.approx(2 * (0.75 * 88 + 10) / 10)
    whole = TargetModel(latency_slo_s=100, concurrency=2, queue_share=1.0, max_wait_share=1.0)
    assert ideal_target(stats, whole) == pytest.approx(19.6)
    # The default caps the planned wait at 0.4 of the budget: 2 * (35.2 + 10) / 10
    assert ideal_target(stats, TargetModel(latency_slo_s=100, concurrency=2)) == pytest.approx(9.04)


def test_planned_wait_stays_below_the_slo_guards_limit() -> None:
    # A long SLO leaves almost no lead-time reserve: 0.75 of the rest would plan a queue wait above the
    # guard's limit (DEFAULT_SHARE of the budget), and the guard would cut what the formula raised.
    stats = DurationStats(samples=100, mean_s=20, tail_s=40)
    model = TargetModel(latency_slo_s=3600, concurrency=1, capacity_lead_s=270)
    target = ideal_target(stats, model)
    planned_wait = (target - model.concurrency) * stats.mean_s / model.concurrency
    budget = waiting_budget(model, stats)
    assert planned_wait == pytest.approx(model.max_wait_share * budget)
    assert planned_wait < GUARD_SHARE * budget < model.queue_share * (budget - 270)


def test_lead_time_reserve_is_capped_at_half_the_waiting_time() -> None:
    stats = DurationStats(samples=100, mean_s=10, tail_s=20)
    # wait = 580; reserve = min(1.0 * 270, 0.5 * 580) = 270
    uncapped = {"queue_share": 1.0, "max_wait_share": 1.0}
    roomy = TargetModel(latency_slo_s=600, concurrency=4, capacity_lead_s=270, **uncapped)
    assert ideal_target(stats, roomy) == pytest.approx(4 * (580 - 270 + 10) / 10)
    # wait = 160; the reserve would be 270 but is capped at 80: a standing queue stays.
    tight = TargetModel(latency_slo_s=180, concurrency=4, capacity_lead_s=270, **uncapped)
    assert ideal_target(stats, tight) == pytest.approx(4 * (160 - 80 + 10) / 10)
    half = TargetModel(600, concurrency=4, capacity_lead_s=270, lead_time_weight=0.5, **uncapped)
    assert ideal_target(stats, half) == pytest.approx(4 * (580 - 135 + 10) / 10)
    # The default plans a queue of three quarters of what is left, at most 0.4 of the waiting time.
    default = TargetModel(latency_slo_s=600, concurrency=4, capacity_lead_s=270)
    planned = min(0.75 * (580 - 270), 0.4 * 580)
    assert ideal_target(stats, default) == pytest.approx(4 * (planned + 10) / 10)


def test_target_grows_with_concurrency_and_shrinks_with_longer_tails() -> None:
    model = TargetModel(latency_slo_s=300, concurrency=1)
    short_tail = ideal_target(DurationStats(100, 10, tail_s=15), model)
    long_tail = ideal_target(DurationStats(100, 10, tail_s=60), model)
    assert long_tail < short_tail
    assert ideal_target(DurationStats(100, 10, tail_s=15), TargetModel(300, concurrency=4)) == pytest.approx(
        4 * short_tail
    )


def test_tail_estimate_prefers_the_percentile_then_a_capped_max() -> None:
    assert DurationStats(10, 5, tail_s=9, max_s=100).tail_estimate() == 9
    assert DurationStats(10, 5, max_s=100).tail_estimate() == 15  # the max, capped at 3 x the mean 5
    assert DurationStats(10, 5).tail_estimate() == 5
    assert DurationStats(10, 5, tail_s=2).tail_estimate() == 5


def test_no_or_few_samples_keep_the_target() -> None:
    model = TargetModel(latency_slo_s=300)
    assert decide_target(10, None, model).action is Action.KEEP
    few = decide_target(10, DurationStats(5, 1), model, GuardRails(min_samples=30))
    assert few.action is Action.KEEP and few.target == 10
    assert "too few samples" in few.reason


def test_raises_are_step_limited_but_cuts_follow_at_once() -> None:
    model = TargetModel(latency_slo_s=600, concurrency=4)
    # Durations x4 longer: the ideal target is far below; the cut is applied in one run.
    slow = DurationStats(100, mean_s=40, tail_s=50)
    cut = decide_target(184, slow, model)
    assert cut.changed
    assert cut.target == pytest.approx(ideal_target(slow, model), rel=0.01)
    # Faster durations: the target may only double per run.
    fast = DurationStats(100, mean_s=10, tail_s=12)
    raised = decide_target(40, fast, model)  # ideal 4 * (0.4 * 588 + 10) / 10 = 98.1
    assert raised.target == 80
    assert "raise limited" in raised.reason


def test_cut_limit_and_rails() -> None:
    model = TargetModel(latency_slo_s=60, concurrency=1)
    rails = GuardRails(max_down_ratio=4)
    collapse = decide_target(400, DurationStats(100, mean_s=50, tail_s=70), model, rails)
    assert collapse.target == 100  # limited to /4, not the ideal (below 1)
    floor = decide_target(2, DurationStats(100, mean_s=50, tail_s=70), model, rails)
    assert floor.target == 1  # never below min_target
    assert "clamped" in floor.reason or "cut" in floor.reason


def test_small_changes_are_skipped() -> None:
    model = TargetModel(latency_slo_s=100, concurrency=2)
    stats = DurationStats(samples=100, mean_s=10, tail_s=12)  # ideal 9.04
    decision = decide_target(9.0, stats, model)
    assert decision.action is Action.KEEP
    assert decision.ideal == pytest.approx(9.04)


def test_invalid_inputs() -> None:
    model = TargetModel(latency_slo_s=100)
    with pytest.raises(ValueError):
        decide_target(0, None, model)
    with pytest.raises(ValueError):
        decide_target(math.nan, None, model)
    with pytest.raises(ValueError):
        TargetModel(latency_slo_s=0)
    with pytest.raises(ValueError):
        TargetModel(latency_slo_s=1, max_lead_share=1.0)
    with pytest.raises(ValueError):
        TargetModel(latency_slo_s=1, max_wait_share=0)
    with pytest.raises(ValueError):
        GuardRails(max_down_ratio=1.0)
    assert decide_target(5, DurationStats(100, mean_s=0), model).action is Action.KEEP
