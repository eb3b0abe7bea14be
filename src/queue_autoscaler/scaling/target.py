"""The target for `BacklogPerInstance`: how many messages per instance the SLO can afford.

Pure: the target tuner Lambda, the simulator and the benchmark call these same functions.

AWS's guidance sets target = acceptable latency / mean processing time. That ignores four
things this module accounts for:

* concurrency: an instance working on ``c`` messages at once drains ``c / mean`` messages a second;
* in-flight messages: our metric counts them (``c`` per busy instance), so at the target a new
  message waits behind ``target - c`` others on its instance, not ``target``;
* the tail: a message's own processing can take the tail duration, not the mean;
* capacity lead time: after the metric crosses the target, new capacity needs the alarm's
  evaluation (3 one-minute datapoints) plus boot time before it consumes; messages queued then
  wait that long too. A share of it (``lead_time_weight``) is reserved from the latency budget,
  but never more than ``max_lead_share`` of the time a message may wait (``slo - tail``).

At the target a newly arrived message waits about ``(target - c) * mean / c`` to start, then runs
for up to ``tail``. Requiring that plus the reserved lead time to fit in the SLO gives::

    wait    = slo - tail
    reserve = min(lead_time_weight * lead, max_lead_share * wait)
    planned = min(queue_share * (wait - reserve), max_wait_share * wait)
    target  = c * (planned + mean) / mean

Why the cap: the metric counts in-flight messages, so a target near ``c`` leaves almost no standing
queue, and target tracking then oscillates (scale-in to ``backlog / target`` when the queue is
empty sizes the fleet for ``target`` messages per instance while each holds ``c``; measured on the
simulator's ``steady-tight`` scenario in docs/design.md, "Policy spec: why each value").
Reserving at most half the waiting time keeps a standing queue of at least half the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

# Without a percentile (moto, or statistic sets) the tail is estimated from the maximum, capped so
# that one outlier in an hour does not collapse the target.
TAIL_FROM_MAX_CAP = 3.0


@dataclass(frozen=True)
class DurationStats:
    """Measured processing duration of one message on one worker slot, in seconds."""

    samples: int
    mean_s: float
    tail_s: float | None = None  # a high percentile (the tuner's TAIL_PERCENTILE, p99 by default) if computed
    max_s: float | None = None

    def tail_estimate(self) -> float:
        """The tail duration to plan for: the percentile if known, else a capped maximum, else the mean."""
        if self.tail_s is not None and self.tail_s > 0:
            return max(self.tail_s, self.mean_s)
        if self.max_s is not None and self.max_s > 0:
            return max(self.mean_s, min(self.max_s, TAIL_FROM_MAX_CAP * self.mean_s))
        return self.mean_s


@dataclass(frozen=True)
class TargetModel:
    """What the formula needs besides the measured durations."""

    latency_slo_s: float
    concurrency: int = 1
    capacity_lead_s: float = 0.0  # alarm evaluation + boot: from "too much backlog" to new capacity
    lead_time_weight: float = 1.0  # share of the lead time reserved from the latency budget
    max_lead_share: float = 0.5  # the reserve never takes more than this share of the waiting time
    # The share of the remaining budget a message is planned to wait in the queue. Real workloads
    # (bursts of one job class, heavy tails) need headroom that steady Poisson loads do not (the RICC
    # trace, d5: docs/design.md, "Policy spec: why each value").
    queue_share: float = 0.75
    # The planned queue wait never exceeds this share of the waiting budget (``slo - tail``), so the
    # design point sits below the SLO guard's limit (scaling.slo_guard.DEFAULT_SHARE, 0.5). Without
    # it, long SLOs planned 0.75 of the budget: on slow-burst the guard and the formula fought and a
    # burst of slow jobs queued behind minutes of fast ones (docs/design.md, "Policy spec: why each
    # value").
    max_wait_share: float = 0.4

    def __post_init__(self) -> None:
        if self.latency_slo_s <= 0:
            raise ValueError("latency_slo_s must be > 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.capacity_lead_s < 0:
            raise ValueError("capacity_lead_s must be >= 0")
        if not 0 <= self.lead_time_weight <= 1:
            raise ValueError("lead_time_weight must be within [0, 1]")
        if not 0 <= self.max_lead_share < 1:
            raise ValueError("max_lead_share must be within [0, 1)")
        if not 0 < self.queue_share <= 1:
            raise ValueError("queue_share must be within (0, 1]")
        if not 0 < self.max_wait_share <= 1:
            raise ValueError("max_wait_share must be within (0, 1]")


@dataclass(frozen=True)
class GuardRails:
    """Limits on what one tuner run may do."""

    min_target: float = 1.0
    max_target: float = 10_000.0
    min_samples: int = 30
    min_change_ratio: float = 0.05  # smaller relative changes are skipped
    max_step_ratio: float = 2.0  # one run raises the target at most by this factor (fewer instances)
    max_down_ratio: float = 8.0  # one run lowers it at most by this factor (more instances: the safe way)

    def __post_init__(self) -> None:
        if self.min_target < 1:
            raise ValueError("min_target must be >= 1 (a target below 1 message per instance is never right)")
        if self.max_target < self.min_target:
            raise ValueError("max_target must be >= min_target")
        if self.min_samples < 1:
            raise ValueError("min_samples must be >= 1")
        if self.min_change_ratio < 0:
            raise ValueError("min_change_ratio must be >= 0")
        if self.max_step_ratio <= 1:
            raise ValueError("max_step_ratio must be > 1")
        if self.max_down_ratio <= 1:
            raise ValueError("max_down_ratio must be > 1")


def aws_guidance_target(latency_slo_s: float, mean_processing_s: float) -> float:
    """AWS's formula (EC2 Auto Scaling user guide, "Scaling policy based on Amazon SQS")."""
    if latency_slo_s <= 0 or mean_processing_s <= 0:
        raise ValueError("latency and processing time must be > 0")
    return latency_slo_s / mean_processing_s


def ideal_target(stats: DurationStats, model: TargetModel) -> float:
    """The unclamped target for these durations (may be below 1 when the SLO is out of reach)."""
    if stats.mean_s <= 0 or not math.isfinite(stats.mean_s):
        raise ValueError("mean processing time must be a positive number")
    mean = stats.mean_s
    wait = model.latency_slo_s - stats.tail_estimate()
    reserve = min(model.lead_time_weight * model.capacity_lead_s, model.max_lead_share * max(wait, 0.0))
    planned = min(model.queue_share * (wait - reserve), model.max_wait_share * max(wait, 0.0))
    return model.concurrency * (planned + mean) / mean


class Action(StrEnum):
    UPDATE = "update"
    KEEP = "keep"


@dataclass(frozen=True)
class TargetDecision:
    """What the tuner decided, and why: logged as is and used by the simulator."""

    action: Action
    current: float
    target: float  # the target after this decision (== current when kept)
    reason: str
    ideal: float | None = None  # the formula's value before clamping and step limits

    @property
    def changed(self) -> bool:
        return self.action is Action.UPDATE


def round_target(value: float) -> float:
    # Three significant figures: finer changes mean nothing given approximate SQS counts.
    if value <= 0:
        return value
    digits = 2 - math.floor(math.log10(value))
    return round(value, max(0, digits))


def decide_target(
    current: float,
    stats: DurationStats | None,
    model: TargetModel,
    rails: GuardRails | None = None,
) -> TargetDecision:
    """Decide the next target from the current one and the measured durations, safely.

    No data or too few samples keeps the current target; the result is clamped to the rails and
    never below 1; one run raises it by at most ``max_step_ratio`` and lowers it by at most
    ``max_down_ratio`` (lowering adds capacity, so processing times that grow are followed at once,
    while a target that would remove capacity moves in steps); small changes are skipped.
    """
    rails = rails or GuardRails()
    if not math.isfinite(current) or current <= 0:
        raise ValueError(f"current target must be a positive number, got {current!r}")
    if stats is None or stats.samples <= 0:
        return TargetDecision(Action.KEEP, current, current, "no processing-duration data")
    if stats.samples < rails.min_samples:
        return TargetDecision(
            Action.KEEP, current, current, f"too few samples ({stats.samples} < {rails.min_samples})"
        )
    if stats.mean_s <= 0 or not math.isfinite(stats.mean_s):
        return TargetDecision(Action.KEEP, current, current, f"invalid mean duration {stats.mean_s!r}")

    ideal = ideal_target(stats, model)
    proposed = min(max(ideal, rails.min_target), rails.max_target)
    reason = "recomputed from measured durations"
    if proposed != ideal:
        reason = f"clamped to [{rails.min_target:g}, {rails.max_target:g}]"
    lowest, highest = current / rails.max_down_ratio, current * rails.max_step_ratio
    if proposed > highest:
        proposed = highest
        reason = f"raise limited to x{rails.max_step_ratio:g} per run"
    elif proposed < lowest:
        proposed = lowest
        reason = f"cut limited to /{rails.max_down_ratio:g} per run"
    # The step limit may not take the target outside the rails.
    proposed = round_target(min(max(proposed, rails.min_target), rails.max_target))

    if abs(proposed - current) / current < rails.min_change_ratio:
        return TargetDecision(
            Action.KEEP,
            current,
            current,
            f"change below {rails.min_change_ratio:.0%} (proposed {proposed:g})",
            ideal,
        )
    return TargetDecision(Action.UPDATE, current, proposed, reason, ideal)


def initial_target(expected: DurationStats, model: TargetModel, rails: GuardRails) -> float:
    """InitialTarget: the formula on the durations expected at deploy time, as the tuner's first run
    would set it from the rails' lowest target (within the rails, three significant figures; a change
    below ``min_change_ratio`` keeps the lowest). `qas plan` and the demo round it to the whole number
    the template parameter takes; the simulator deploys it as is."""
    first = decide_target(
        rails.min_target, expected, model, replace(rails, min_samples=1, max_step_ratio=math.inf)
    )
    return first.target
