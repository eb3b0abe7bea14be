"""One tuner run, end to end: pick the lookback, correct the durations, decide, guard the SLO.

Pure: the target tuner Lambda and the simulator both call :func:`tune_target`; each part is a module
of its own (`scaling.estimate`, `scaling.target`, `scaling.slo_guard`) with the measurement that
justified it in its docstring and in docs/design.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from queue_autoscaler.scaling.estimate import RunningJobs, count_running_jobs, widen_lookback
from queue_autoscaler.scaling.fifo import queue_model
from queue_autoscaler.scaling.slo_guard import DEFAULT_SHARE, DRAIN_SHARE, QueueAge, guard_target
from queue_autoscaler.scaling.target import (
    DurationStats,
    GuardRails,
    TargetDecision,
    TargetModel,
    decide_target,
)

DEFAULT_MAX_LOOKBACK_MINUTES = 120


@dataclass(frozen=True)
class TunerPolicy:
    """The tuner's own settings (the Lambda reads them from its environment)."""

    model: TargetModel
    rails: GuardRails
    lookback_minutes: int = 10
    max_lookback_minutes: int = DEFAULT_MAX_LOOKBACK_MINUTES
    guard_share: float = DEFAULT_SHARE
    drain_guard: bool = True  # the guard also projects the visible queue's drain time
    drain_share: float = DRAIN_SHARE

    def __post_init__(self) -> None:
        if not 1 <= self.lookback_minutes <= self.max_lookback_minutes:
            raise ValueError("need 1 <= lookback_minutes <= max_lookback_minutes")
        if not 0 <= self.guard_share <= 1:
            raise ValueError("guard_share must be within [0, 1]")


def tuner_policy(
    model: TargetModel,
    rails: GuardRails,
    *,
    fifo: bool,
    lookback_minutes: int,
    max_lookback_minutes: int,
    guard_share: float,
    drain_guard: bool = True,
    drain_share: float = DRAIN_SHARE,
) -> TunerPolicy:
    """The tuner's policy for one queue: the Lambda's (from its environment) and the simulator's.

    On a FIFO queue the formula plans the whole budget (`scaling.fifo.queue_model`) and there is no
    SLO guard: the oldest message waits behind its own group, which more capacity cannot drain.
    """
    return TunerPolicy(
        model=queue_model(model, fifo),
        rails=rails,
        lookback_minutes=lookback_minutes,
        max_lookback_minutes=max_lookback_minutes,
        guard_share=0.0 if fifo else guard_share,
        drain_guard=drain_guard,
        drain_share=drain_share,
    )


@dataclass(frozen=True)
class TunerRun:
    """What one run decided and what it decided from (logged as is)."""

    decision: TargetDecision
    formula: TargetDecision  # the formula's decision before the SLO guard (== decision: it did not act)
    lookback_minutes: int
    measured: DurationStats | None  # completions in the lookback
    planned: DurationStats | None  # after counting the running jobs: what the formula used


def tune_target(
    current: float,
    stats_for: Callable[[int], DurationStats | None],
    running: RunningJobs,
    age: QueueAge | None,
    policy: TunerPolicy,
) -> TunerRun:
    """``stats_for(minutes)`` gives the completed durations of the last ``minutes``."""
    minutes, measured = widen_lookback(
        stats_for, policy.lookback_minutes, policy.max_lookback_minutes, policy.rails.min_samples
    )
    planned = count_running_jobs(measured, running)
    formula = decide_target(current, planned, policy.model, policy.rails)
    decision = guard_target(
        formula,
        age,
        policy.model,
        planned,
        policy.rails,
        share=policy.guard_share,
        drain=policy.drain_guard,
        drain_share=policy.drain_share,
    )
    return TunerRun(decision, formula, minutes, measured, planned)
