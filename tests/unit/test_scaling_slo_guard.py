"""The SLO guard: it cuts the target only for waiting the current capacity caused."""

from __future__ import annotations

import pytest

from queue_autoscaler.scaling.slo_guard import QueueAge, guard_target, waiting_budget
from queue_autoscaler.scaling.target import Action, DurationStats, GuardRails, TargetDecision, TargetModel

MODEL = TargetModel(latency_slo_s=600, concurrency=1)
STATS = DurationStats(samples=100, mean_s=20, tail_s=40)  # budget 560 s, the guard's limit 280 s
KEEP = TargetDecision(Action.KEEP, 40.0, 40.0, "formula")


def guarded(age: QueueAge) -> TargetDecision:
    return guard_target(KEEP, age, MODEL, STATS, GuardRails(), drain=False)


def test_an_old_message_on_a_fleet_settled_long_enough_cuts_the_target() -> None:
    assert waiting_budget(MODEL, STATS) == 560
    decision = guarded(QueueAge(560, settled=True, settled_for_s=900))
    assert decision.changed
    assert decision.target == 20  # 40 / (560 / 280)
    assert "SLO guard" in decision.reason


def test_only_the_wait_on_a_settled_fleet_is_blamed_on_the_target() -> None:
    # The oldest message waited 560 s, but the fleet has had its capacity for 120 s only: the rest
    # was a cold start or a scale-out booting, which a lower target would not have shortened.
    assert QueueAge(560, settled=True, settled_for_s=120).blamed_age_s == 120
    assert guarded(QueueAge(560, settled=True, settled_for_s=120)) is KEEP
    # Unknown settled time (an older tuner input): the whole age counts, as before.
    assert QueueAge(560, settled=True).blamed_age_s == 560
    assert guarded(QueueAge(560, settled=True)).changed


def test_an_unsettled_fleet_gets_no_guard() -> None:
    assert guarded(QueueAge(5000, settled=False, settled_for_s=None)) is KEEP


def test_the_drain_signal_fires_before_the_oldest_message_is_old() -> None:
    # 300 visible on 5 running at 20 s: 1,200 s to start them > 0.8 x 560
    age = QueueAge(30, settled=True, visible=300, running=5, settled_for_s=600)
    decision = guard_target(KEEP, age, MODEL, STATS, GuardRails())
    assert decision.changed and "need" in decision.reason
    assert decision.target == pytest.approx(40 / (1200 / (0.8 * 560)), rel=0.01)


def test_invalid_ages_are_rejected() -> None:
    with pytest.raises(ValueError):
        QueueAge(-1, settled=True)
    with pytest.raises(ValueError):
        QueueAge(10, settled=True, settled_for_s=-5)
