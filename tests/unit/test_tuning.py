"""scaling.tuning.tune_target, one tuner run on plain values: lookback, running jobs, formula, guard.

Unless a test says otherwise: SLO 600 s, one slot, the default shares (plan min(0.75, 0.4) of the
waiting time), the current target 10, and 40 completions in the first 10 minutes with mean 20 s and
p90 40 s. Then the waiting time is 600 - 40 = 560 s, the planned wait 0.4 x 560 = 224 s and the
formula's target (224 + 20) / 20 = 12.2.
"""

from __future__ import annotations

from queue_autoscaler.scaling.estimate import NO_RUNNING_JOBS, RunningJobs
from queue_autoscaler.scaling.slo_guard import QueueAge
from queue_autoscaler.scaling.target import Action, DurationStats, GuardRails, TargetDecision, TargetModel
from queue_autoscaler.scaling.tuning import TunerPolicy, TunerRun, tune_target

MODEL = TargetModel(latency_slo_s=600)
RAILS = GuardRails(min_samples=30)
MEASURED = DurationStats(samples=40, mean_s=20.0, tail_s=40.0)
FORMULA = TargetDecision(Action.UPDATE, 10.0, 12.2, "recomputed from measured durations", 12.2)


class Window:
    """``stats_for``: MEASURED from ``enough_from`` minutes on, 5 completions below; records the asks."""

    def __init__(self, enough_from: int = 10) -> None:
        self.enough_from = enough_from
        self.asked: list[int] = []

    def __call__(self, minutes: int) -> DurationStats:
        self.asked.append(minutes)
        return MEASURED if minutes >= self.enough_from else DurationStats(5, 20.0, tail_s=40.0)


def run(age: QueueAge | None = None, running: RunningJobs = NO_RUNNING_JOBS, **policy: object) -> TunerRun:
    return tune_target(10.0, Window(), running, age, TunerPolicy(MODEL, RAILS, **policy))  # type: ignore[arg-type]


def test_enough_completions_and_no_guard_give_the_formulas_target() -> None:
    assert run() == TunerRun(FORMULA, FORMULA, 10, MEASURED, MEASURED)


def test_the_lookback_widens_until_min_samples_completions() -> None:
    # 10 min hold 5 completions, 20 min hold 40: RAILS.min_samples (30) decides
    window = Window(enough_from=20)
    result = tune_target(10.0, window, NO_RUNNING_JOBS, None, TunerPolicy(MODEL, RAILS))
    assert (result.lookback_minutes, result.measured, result.decision) == (20, MEASURED, FORMULA)
    assert window.asked == [10, 20]


def test_the_lookback_starts_and_stops_where_the_policy_says() -> None:
    # First 15 minutes, then 30, at most 45: never enough here, so the formula keeps the target
    window = Window(enough_from=1000)
    policy = TunerPolicy(MODEL, RAILS, lookback_minutes=15, max_lookback_minutes=45)
    result = tune_target(10.0, window, NO_RUNNING_JOBS, None, policy)
    assert window.asked == [15, 30, 45]
    assert result.lookback_minutes == 45
    assert result.decision == TargetDecision(Action.KEEP, 10.0, 10.0, "too few samples (5 < 30)")


def test_running_jobs_raise_the_mean_the_formula_plans_with() -> None:
    # 2 jobs have run 400 s between them: mean (20 x 40 + 400) / 40 = 30 s, tail max(40, 30) = 40
    # target (224 + 30) / 30 = 8.47
    planned = DurationStats(samples=40, mean_s=30.0, tail_s=40.0)
    decision = TargetDecision(Action.UPDATE, 10.0, 8.47, "recomputed from measured durations", 254 / 30)
    assert run(running=RunningJobs(2, 400.0)) == TunerRun(decision, decision, 10, MEASURED, planned)


def test_an_old_message_makes_the_guard_cut_below_the_formula() -> None:
    # 600 s old against 0.5 x 560 = 280 s: over 2.14, 10 / 2.14 = 4.67
    result = run(QueueAge(600, settled=True))
    assert result.formula == FORMULA
    assert result.decision == TargetDecision(
        Action.UPDATE,
        10.0,
        4.67,
        "SLO guard: oldest message 600 s on a settled fleet > 280 s (0.5 of the budget)",
        12.2,
    )


def test_the_policys_guard_share_sets_the_limit() -> None:
    # 0.25 x 560 = 140 s: over 4.29, 10 / 4.29 = 2.33
    result = run(QueueAge(600, settled=True), guard_share=0.25)
    assert (result.decision.target, result.decision.reason) == (
        2.33,
        "SLO guard: oldest message 600 s on a settled fleet > 140 s (0.25 of the budget)",
    )


def test_the_drain_guard_and_its_share_follow_the_policy() -> None:
    # 100 visible x 20 s / 2 running = 1,000 s to start them
    backlog = QueueAge(0, settled=True, visible=100, running=2)
    # against 0.8 x 560 = 448: over 2.23, 10 / 2.23 = 4.48
    assert run(backlog).decision.target == 4.48
    # against 0.5 x 560 = 280: over 3.57, 10 / 3.57 = 2.8
    assert run(backlog, drain_share=0.5).decision.target == 2.8
    # off: the formula stands
    assert run(backlog, drain_guard=False).decision == FORMULA


def test_the_guard_sees_the_mean_corrected_for_running_jobs() -> None:
    # mean 30 s (the running jobs'): 100 x 30 / 2 = 1,500 s against 448: over 3.35, 10 / 3.35 = 2.99
    backlog = QueueAge(0, settled=True, visible=100, running=2)
    assert run(backlog, running=RunningJobs(2, 400.0)).decision.target == 2.99


def test_the_policy_defaults() -> None:
    policy = TunerPolicy(MODEL, RAILS)
    assert (policy.lookback_minutes, policy.max_lookback_minutes) == (10, 120)
    assert (policy.guard_share, policy.drain_guard, policy.drain_share) == (0.5, True, 0.8)


def test_the_policys_rails_bound_the_formula() -> None:
    # max_target 11: the formula's 12.2 is clamped
    policy = TunerPolicy(MODEL, GuardRails(min_samples=30, max_target=11.0))
    result = tune_target(10.0, Window(), NO_RUNNING_JOBS, None, policy)
    assert result.decision == TargetDecision(Action.UPDATE, 10.0, 11.0, "clamped to [1, 11]", 12.2)
