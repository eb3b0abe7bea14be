"""The SLO guard: when the oldest waiting message gets close to the SLO, the target was wrong.

Pure: the target tuner Lambda and the simulator call it after :func:`scaling.target.decide_target`.

The duration model can be wrong in ways no estimate fixes in time: a burst of a slow job class, a
mix that shifts, jobs that last longer than any lookback. The age of the oldest visible message
(SQS ``ApproximateAgeOfOldestMessage``) measures the SLO itself. When it passes ``share`` of the
waiting budget (SLO minus the tail duration) while the fleet has all the capacity it asked for,
messages wait too long at the current target, and queue wait grows with the target: the guard cuts
the target by budget / age (at most ``max_down_ratio`` per run), so target tracking adds capacity.
While capacity is still booting (running < desired) the age says nothing about the target: a cold
start's wait is the boot time.
"""

from __future__ import annotations

from dataclasses import dataclass

from queue_autoscaler.scaling.target import (
    Action,
    DurationStats,
    GuardRails,
    TargetDecision,
    TargetModel,
    round_target,
)

DRAIN_SHARE = 0.8  # the visible messages' start time against this share of the budget
DEFAULT_SHARE = 0.5  # measured: 0.3 costs more on the grid traces, 0.7 misses the RICC burst (docs/design.md)
MIN_BUDGET_SHARE = 0.1  # a tail longer than the SLO still leaves a tenth of it as the budget


@dataclass(frozen=True)
class QueueAge:
    """The oldest visible message's age, and whether the fleet had the capacity it asked for."""

    oldest_age_s: float
    settled: bool  # running >= desired > 0 when the age was read
    visible: int = 0  # messages waiting then, and the capacity consuming them:
    running: int = 0  # with the mean duration, how long the waiting messages take to start
    # How long the fleet has had what it asked for (None: unknown). A message older than that waited
    # partly through a cold start or a scale-out, which says nothing about the target.
    settled_for_s: float | None = None

    def __post_init__(self) -> None:
        if self.oldest_age_s < 0:
            raise ValueError("oldest_age_s must be >= 0")
        if self.settled_for_s is not None and self.settled_for_s < 0:
            raise ValueError("settled_for_s must be >= 0")

    @property
    def blamed_age_s(self) -> float:
        """The part of the oldest message's wait spent on a settled fleet: what the target caused."""
        if self.settled_for_s is None:
            return self.oldest_age_s
        return min(self.oldest_age_s, self.settled_for_s)


def is_settled(running: float | None, desired: float | None) -> bool:
    """The fleet has the capacity it asked for (and asked for some): running >= desired > 0."""
    return running is not None and desired is not None and running >= desired > 0


def waiting_budget(model: TargetModel, stats: DurationStats | None) -> float:
    """How long a message may wait and still meet the SLO at the tail duration."""
    tail = stats.tail_estimate() if stats is not None and stats.samples > 0 and stats.mean_s > 0 else 0.0
    return max(model.latency_slo_s - tail, MIN_BUDGET_SHARE * model.latency_slo_s)


def guard_target(
    decision: TargetDecision,
    age: QueueAge | None,
    model: TargetModel,
    stats: DurationStats | None,
    rails: GuardRails,
    *,
    share: float = DEFAULT_SHARE,
    drain: bool = True,
    drain_share: float = DRAIN_SHARE,
) -> TargetDecision:
    """Lower the decided target when the oldest message's age passes ``share`` of the budget, or (with
    ``drain``) the visible messages need longer than the whole budget to start on the running slots."""
    if not 0 <= share <= 1:
        raise ValueError("share must be within [0, 1]")
    if age is None or share == 0 or not age.settled:
        return decision
    budget = waiting_budget(model, stats)
    limit = share * budget
    # How far over its limit each signal is: the oldest message against share x budget, and the time
    # the visible messages take to start on the running slots at the planned mean duration against
    # the whole budget (at the target that time is queue_share of the budget, so it fires only off
    # the design point: a burst, a slow class; it reacts before the oldest message is old).
    over = age.blamed_age_s / limit if limit > 0 else 0.0
    signal = (
        f"oldest message {age.blamed_age_s:.0f} s on a settled fleet > {limit:.0f} s"
        f" ({share:g} of the budget)"
    )
    if drain and stats is not None and stats.samples > 0 and age.visible > 0:
        drain_s = age.visible * stats.mean_s / (model.concurrency * max(1, age.running))
        if drain_s / (drain_share * budget) > over:
            over = drain_s / (drain_share * budget)
            signal = f"the visible messages need {drain_s:.0f} s to start > the {budget:.0f} s budget"
    if over <= 1:
        return decision
    current = decision.current
    guarded = max(rails.min_target, current / over, current / rails.max_down_ratio)
    guarded = round_target(guarded)
    if guarded >= decision.target * (1 - rails.min_change_ratio):
        return decision  # the duration model already asks for at least as much capacity
    reason = f"SLO guard: {signal}"
    return TargetDecision(Action.UPDATE, current, guarded, reason, decision.ideal)
