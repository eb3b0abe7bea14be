"""scaling.slo_guard on hand-worked numbers: when it cuts, by how much, and when it leaves the formula be.

Unless a test says otherwise: SLO 600 s, one slot, mean = tail = 100 s, so the waiting budget is
600 - 100 = 500 s and the oldest-message limit at the default share 0.5 is 250 s.
"""

from __future__ import annotations

import pytest

from queue_autoscaler.scaling.slo_guard import QueueAge, guard_target, is_settled, waiting_budget
from queue_autoscaler.scaling.target import Action, DurationStats, GuardRails, TargetDecision, TargetModel

MODEL = TargetModel(latency_slo_s=600)
STATS = DurationStats(samples=50, mean_s=100.0, tail_s=100.0)
RAILS = GuardRails()
KEEP_40 = TargetDecision(Action.KEEP, 40.0, 40.0, "formula", 55.0)


def old(age_s: float, **kw: float) -> QueueAge:
    """The oldest message's age on a fleet settled long enough to blame all of it on the target."""
    return QueueAge(age_s, settled=True, **kw)  # type: ignore[arg-type]


def guard(decision: TargetDecision, age: QueueAge | None, **kw: object) -> TargetDecision:
    options = {"stats": STATS, "model": MODEL, "drain": False, **kw}
    return guard_target(
        decision,
        age,
        options.pop("model"),  # type: ignore[arg-type]
        options.pop("stats"),  # type: ignore[arg-type]
        RAILS,
        **options,  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------ settled, budget


@pytest.mark.parametrize(
    ("running", "desired", "settled"),
    [(1, 1, True), (3, 2, True), (1, 2, False), (0, 0, False), (None, 1, False), (1, None, False)],
)
def test_settled_means_running_at_least_desired_and_desired_above_zero(
    running: int | None, desired: int | None, settled: bool
) -> None:
    assert is_settled(running, desired) is settled


@pytest.mark.parametrize(
    ("durations", "budget"),
    [
        (None, 600.0),  # no durations: the whole SLO
        (DurationStats(0, 100.0, tail_s=100.0), 600.0),  # no samples: the durations mean nothing
        (DurationStats(5, 0.0, tail_s=100.0), 600.0),  # no mean: nothing to plan with
        (DurationStats(1, 100.0, tail_s=100.0), 500.0),  # one sample counts
        (DurationStats(5, 0.5, tail_s=0.8), 599.2),  # durations under a second count
        (DurationStats(5, 100.0, tail_s=700.0), 60.0),  # a tail past the SLO: a tenth of it
    ],
)
def test_the_waiting_budget_is_the_slo_less_the_tail_but_at_least_a_tenth(
    durations: DurationStats | None, budget: float
) -> None:
    assert waiting_budget(MODEL, durations) == pytest.approx(budget)


def test_blamed_age_is_the_part_of_the_wait_on_a_settled_fleet() -> None:
    assert QueueAge(300, settled=True).blamed_age_s == 300
    assert QueueAge(300, settled=True, settled_for_s=120).blamed_age_s == 120
    assert QueueAge(100, settled=True, settled_for_s=120).blamed_age_s == 100


# ------------------------------------------------------------------ when it acts


def test_no_age_an_unsettled_fleet_or_share_zero_leave_the_decision_alone() -> None:
    assert guard(KEEP_40, None) is KEEP_40
    assert guard(KEEP_40, QueueAge(5000, settled=False)) is KEEP_40
    # share 0 turns the guard off, the drain signal included
    assert guard(KEEP_40, old(5000, visible=100, running=1), share=0.0, drain=True) is KEEP_40


def test_an_oldest_message_past_the_limit_cuts_by_age_over_limit() -> None:
    # 500 s against 250 s: over 2, 40 / 2 = 20; the formula's ideal is kept for the log
    assert guard(KEEP_40, old(500)) == TargetDecision(
        Action.UPDATE,
        40.0,
        20.0,
        "SLO guard: oldest message 500 s on a settled fleet > 250 s (0.5 of the budget)",
        55.0,
    )


def test_share_one_puts_the_limit_at_the_whole_budget() -> None:
    # 1,000 s against 1 x 500 s: 40 / 2 = 20
    decision = guard(KEEP_40, old(1000), share=1.0)
    assert (decision.target, decision.reason) == (
        20.0,
        "SLO guard: oldest message 1000 s on a settled fleet > 500 s (1 of the budget)",
    )


def test_a_limit_under_one_second_still_counts() -> None:
    # SLO 2 s without durations: budget 2, limit 0.5 x 2 = 1 s; a 3 s old message is 3x over
    decision = guard(KEEP_40, old(3), model=TargetModel(latency_slo_s=2), stats=None)
    assert decision.target == pytest.approx(13.3)  # 40 / 3 = 13.33 -> 13.3


def test_exactly_at_the_limit_is_not_over_it() -> None:
    # The formula raised 40 -> 80; a message exactly 250 s old does not undo it
    raised = TargetDecision(Action.UPDATE, 40.0, 80.0, "recomputed", 80.0)
    assert guard(raised, old(250)) is raised
    # and 300 s cuts: over 1.2, 40 / 1.2 = 33.3
    assert guard(raised, old(300)).target == 33.3


def test_the_cut_is_limited_per_run_and_by_min_target() -> None:
    # 4,000 s: over 16, 40 / 16 = 2.5, but at most /8 per run: 5
    assert guard(KEEP_40, old(4000)).target == 5.0
    # From 2: 2 / 16 = 0.125 and 2 / 8 = 0.25, both below min_target 1
    two = TargetDecision(Action.KEEP, 2.0, 2.0, "formula")
    assert guard(two, old(4000)).target == 1.0


def test_the_formula_already_cutting_deeper_wins() -> None:
    # The formula cut 40 -> 10; the guard would only go to 20
    cut = TargetDecision(Action.UPDATE, 40.0, 10.0, "recomputed", 10.0)
    assert guard(cut, old(500)) is cut


def test_a_guard_within_the_minimum_change_of_the_decision_leaves_it() -> None:
    # min_change_ratio 0.5: the guard's 20 is exactly 40 x (1 - 0.5), not below it
    rails = GuardRails(min_change_ratio=0.5)
    assert guard_target(KEEP_40, old(500), MODEL, STATS, rails, drain=False) is KEEP_40
    # 600 s: 40 / 2.4 = 16.7 < 20: applied
    assert guard_target(KEEP_40, old(600), MODEL, STATS, rails, drain=False).target == 16.7


# ------------------------------------------------------------------ the drain signal


def test_the_drain_signal_projects_the_visible_messages_start_time() -> None:
    # 8 visible x 100 s / (1 slot x 1 running) = 800 s against 0.8 x 500 = 400: over 2, 40 / 2 = 20
    decision = guard(KEEP_40, old(0, visible=8, running=1), drain=True)
    assert decision == TargetDecision(
        Action.UPDATE,
        40.0,
        20.0,
        "SLO guard: the visible messages need 800 s to start > the 500 s budget",
        55.0,
    )


def test_the_drain_signal_divides_by_the_running_slots() -> None:
    # 16 x 100 / (2 slots x 2 running) = 400 s against 400: not over
    two_slots = TargetModel(latency_slo_s=600, concurrency=2)
    assert guard(KEEP_40, old(0, visible=16, running=2), model=two_slots, drain=True) is KEEP_40
    # none running counts as one: 8 x 100 / (1 x 1) = 800, over 2
    assert guard(KEEP_40, old(0, visible=8, running=0), drain=True).target == 20.0


def test_the_drain_share_sets_its_limit() -> None:
    # 8 x 100 = 800 s against 0.4 x 500 = 200: over 4, 40 / 4 = 10
    assert guard(KEEP_40, old(0, visible=8, running=1), drain=True, drain_share=0.4).target == 10.0


def test_one_visible_message_can_need_longer_than_the_budget() -> None:
    # mean 1,000 s (a percentile below the mean counts as the mean): tail 1,000,
    # budget max(600 - 1000, 60) = 60, drain 1 x 1000 / 1 = 1000 against 48: over 20.8 -> /8: 5
    slow = DurationStats(samples=5, mean_s=1000.0, tail_s=100.0)
    assert guard(KEEP_40, old(0, visible=1, running=1), stats=slow, drain=True).target == 5.0


def test_the_stronger_signal_names_the_cut_and_a_tie_goes_to_the_age() -> None:
    # age 500 / 250 = 2 and drain 8 x 100 / 400 = 2: the oldest message is named
    decision = guard(KEEP_40, old(500, visible=8, running=1), drain=True)
    assert decision.reason.startswith("SLO guard: oldest message 500 s")
    # age 300 / 250 = 1.2 < drain 2: the drain is named, and cuts by 2
    decision = guard(KEEP_40, old(300, visible=8, running=1), drain=True)
    assert (decision.target, decision.reason) == (
        20.0,
        "SLO guard: the visible messages need 800 s to start > the 500 s budget",
    )


def test_no_drain_signal_without_drain_samples_or_visible_messages() -> None:
    backlog = old(0, visible=100, running=1)
    assert guard(KEEP_40, backlog, drain=False) is KEEP_40
    assert guard(KEEP_40, backlog, drain=True, stats=None) is KEEP_40
    no_samples = DurationStats(samples=0, mean_s=100.0, tail_s=100.0)
    assert guard(KEEP_40, backlog, drain=True, stats=no_samples) is KEEP_40
    one_sample = DurationStats(samples=1, mean_s=100.0, tail_s=100.0)
    # 100 x 100 / 1 = 10,000 s against 400: over 25, /8 per run: 5
    assert guard(KEEP_40, backlog, drain=True, stats=one_sample).target == 5.0
    assert guard(KEEP_40, old(0, visible=0, running=1), drain=True) is KEEP_40
