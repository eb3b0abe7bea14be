"""Bad input to the pure core is refused with a message naming what is wrong, right at the boundary.

Each rejected case sits just past a limit and each accepted one exactly on it, so a limit that moves
by one (``< 0`` -> ``<= 0``) or a message that changes fails here. The messages are what a user sees
when a setting is wrong (the settings parsers pass them on), so they are compared whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from qas.model.control_plane import ControlPlane, ControlPlaneConfig, PeriodInput
from qas.model.scale_in_victims import plan_scale_in
from queue_autoscaler.scaling.backlog import (
    BacklogSample,
    FleetCapacity,
    QueueCounts,
    backlog_per_instance,
    scale_out_pressure,
)
from queue_autoscaler.scaling.estimate import RunningJobs, widen_lookback
from queue_autoscaler.scaling.fifo import cap_backlog_per_instance, is_group_bound, usable_capacity
from queue_autoscaler.scaling.fleets import WeightedQueue, combine_queues
from queue_autoscaler.scaling.scale_in_lane import scale_in_pressure
from queue_autoscaler.scaling.slo_guard import QueueAge, guard_target
from queue_autoscaler.scaling.target import (
    Action,
    DurationStats,
    GuardRails,
    TargetDecision,
    TargetModel,
    aws_guidance_target,
    decide_target,
    ideal_target,
)
from queue_autoscaler.scaling.tuning import TunerPolicy

MODEL = TargetModel(latency_slo_s=100)
KEEP = TargetDecision(Action.KEEP, 10.0, 10.0, "formula")
AGE = QueueAge(10, settled=True)


def _config(**kw: Any) -> ControlPlaneConfig:
    return ControlPlaneConfig(**{"target": 1.0, **kw})


def _period(**kw: Any) -> PeriodInput:
    return PeriodInput(
        **{"now_s": 60.0, "metric": 1.0, "visible": 0, "in_flight": 0, "running": 0, "desired": 0, **kw}
    )


def _policy(**kw: Any) -> TunerPolicy:
    return TunerPolicy(MODEL, GuardRails(), **kw)


def _no_stats(minutes: int) -> DurationStats | None:
    return None


def _backwards_in_time() -> None:
    cp = ControlPlane(_config())
    cp.evaluate(_period(now_s=120.0))
    cp.evaluate(_period(now_s=60.0))


REJECTED: list[tuple[Callable[[], object], str]] = [
    # scaling.target
    (lambda: TargetModel(latency_slo_s=0), "latency_slo_s must be > 0"),
    (lambda: TargetModel(100, concurrency=0), "concurrency must be >= 1"),
    (lambda: TargetModel(100, capacity_lead_s=-0.5), "capacity_lead_s must be >= 0"),
    (lambda: TargetModel(100, lead_time_weight=-0.5), r"lead_time_weight must be within \[0, 1\]"),
    (lambda: TargetModel(100, lead_time_weight=1.5), r"lead_time_weight must be within \[0, 1\]"),
    (lambda: TargetModel(100, max_lead_share=-0.5), r"max_lead_share must be within \[0, 1\)"),
    (lambda: TargetModel(100, max_lead_share=1.0), r"max_lead_share must be within \[0, 1\)"),
    (lambda: TargetModel(100, queue_share=0), r"queue_share must be within \(0, 1\]"),
    (lambda: TargetModel(100, queue_share=1.5), r"queue_share must be within \(0, 1\]"),
    (lambda: TargetModel(100, max_wait_share=0), r"max_wait_share must be within \(0, 1\]"),
    (lambda: TargetModel(100, max_wait_share=1.5), r"max_wait_share must be within \(0, 1\]"),
    (
        lambda: GuardRails(min_target=0.5),
        r"min_target must be >= 1 \(a target below 1 message per instance is never right\)",
    ),
    (lambda: GuardRails(min_target=5, max_target=4.5), "max_target must be >= min_target"),
    (lambda: GuardRails(min_samples=0), "min_samples must be >= 1"),
    (lambda: GuardRails(min_change_ratio=-0.01), "min_change_ratio must be >= 0"),
    (lambda: GuardRails(max_step_ratio=1), "max_step_ratio must be > 1"),
    (lambda: GuardRails(max_down_ratio=1), "max_down_ratio must be > 1"),
    (lambda: aws_guidance_target(0, 1), "latency and processing time must be > 0"),
    (lambda: aws_guidance_target(1, 0), "latency and processing time must be > 0"),
    (lambda: ideal_target(DurationStats(10, 0.0), MODEL), "mean processing time must be a positive number"),
    (
        lambda: ideal_target(DurationStats(10, math.inf), MODEL),
        "mean processing time must be a positive number",
    ),
    (lambda: decide_target(-1.0, None, MODEL), r"current target must be a positive number, got -1\.0"),
    (lambda: decide_target(math.inf, None, MODEL), "current target must be a positive number, got inf"),
    # scaling.slo_guard
    (lambda: QueueAge(-0.5, settled=True), "oldest_age_s must be >= 0"),
    (lambda: QueueAge(0, settled=True, settled_for_s=-0.5), "settled_for_s must be >= 0"),
    (
        lambda: guard_target(KEEP, AGE, MODEL, None, GuardRails(), share=-0.1),
        r"share must be within \[0, 1\]",
    ),
    (lambda: guard_target(KEEP, AGE, MODEL, None, GuardRails(), share=1.1), r"share must be within \[0, 1\]"),
    # scaling.estimate and scaling.tuning
    (
        lambda: RunningJobs(-1, 0.0),
        r"running jobs cannot be negative: RunningJobs\(count=-1, elapsed_total_s=0\.0\)",
    ),
    (
        lambda: RunningJobs(0, -0.5),
        r"running jobs cannot be negative: RunningJobs\(count=0, elapsed_total_s=-0\.5\)",
    ),
    (lambda: widen_lookback(_no_stats, 0, 10, 1), "need 1 <= first_minutes <= max_minutes"),
    (lambda: widen_lookback(_no_stats, 10, 9, 1), "need 1 <= first_minutes <= max_minutes"),
    (lambda: _policy(lookback_minutes=0), "need 1 <= lookback_minutes <= max_lookback_minutes"),
    (
        lambda: _policy(lookback_minutes=11, max_lookback_minutes=10),
        "need 1 <= lookback_minutes <= max_lookback_minutes",
    ),
    (lambda: _policy(guard_share=-0.1), r"guard_share must be within \[0, 1\]"),
    (lambda: _policy(guard_share=1.1), r"guard_share must be within \[0, 1\]"),
    # scaling.backlog and scaling.fleets
    (lambda: QueueCounts(-1, 0), r"queue counts cannot be negative: QueueCounts\(visible=-1, in_flight=0\)"),
    (lambda: QueueCounts(0, -1), r"queue counts cannot be negative: QueueCounts\(visible=0, in_flight=-1\)"),
    (lambda: FleetCapacity(-1, 0), r"capacity cannot be negative: FleetCapacity\(running=-1, desired=0\)"),
    (lambda: FleetCapacity(0, -1), r"capacity cannot be negative: FleetCapacity\(running=0, desired=-1\)"),
    (
        lambda: BacklogSample(QueueCounts(0, 0), FleetCapacity(0, 0), peer_running=-1),
        "peer capacity cannot be negative: -1",
    ),
    (lambda: backlog_per_instance(-1, 0, 0), "counts cannot be negative"),
    (lambda: backlog_per_instance(0, -1, 0), "counts cannot be negative"),
    (lambda: backlog_per_instance(0, 0, -1), "counts cannot be negative"),
    (lambda: scale_out_pressure(1.0, 0.0), r"target must be > 0, got 0\.0"),
    (
        lambda: WeightedQueue(QueueCounts(0, 0), weight=0.0),
        r"queue weight must be a finite number > 0, got 0\.0",
    ),
    (
        lambda: WeightedQueue(QueueCounts(0, 0), weight=math.nan),
        "queue weight must be a finite number > 0, got nan",
    ),
    (lambda: combine_queues([]), "at least one queue is needed"),
    # scaling.fifo
    (lambda: is_group_bound(-1, 0, 0), "counts cannot be negative"),
    (lambda: is_group_bound(0, -1, 0), "counts cannot be negative"),
    (lambda: is_group_bound(0, 0, -1), "counts cannot be negative"),
    (lambda: usable_capacity(0, 0), "concurrency must be >= 1"),
    (lambda: usable_capacity(0, 1, headroom_ratio=-0.01), "headroom_ratio must be >= 0"),
    (
        lambda: cap_backlog_per_instance(1.0, visible=1, in_flight=0, running=1, concurrency=1, target=0.0),
        "target must be > 0",
    ),
    # scaling.scale_in_lane and qas.model.scale_in_victims
    (lambda: scale_in_pressure(1.0, 1, 1, 0.0), r"target must be > 0, got 0\.0"),
    (lambda: scale_in_pressure(1.0, -1, 1, 1.0), "counts and the metric cannot be negative"),
    (lambda: scale_in_pressure(1.0, 1, -1, 1.0), "counts and the metric cannot be negative"),
    (lambda: scale_in_pressure(-0.5, 1, 1, 1.0), "counts and the metric cannot be negative"),
    (lambda: plan_scale_in([], -1), "new_desired must be >= 0"),
    # qas.model.control_plane
    (lambda: _config(target=0.0), "target must be a positive number"),
    (lambda: _config(target=math.inf), "target must be a positive number"),
    (lambda: _config(min_capacity=-1), "need 0 <= min_capacity <= max_capacity"),
    (lambda: _config(min_capacity=3, max_capacity=2), "need 0 <= min_capacity <= max_capacity"),
    (lambda: _config(period_s=0), "period_s must be > 0"),
    (lambda: _config(high_datapoints=0), "datapoints must be >= 1"),
    (lambda: _config(low_datapoints=0), "datapoints must be >= 1"),
    (lambda: _config(scale_in_ratio=0.0), r"scale_in_ratio must be within \(0, 1\]"),
    (lambda: _config(scale_in_ratio=1.5), r"scale_in_ratio must be within \(0, 1\]"),
    (lambda: _config(instance_warmup_s=-1), "warm-up and cooldowns must be >= 0"),
    (lambda: _config(scale_out_cooldown_s=-1), "warm-up and cooldowns must be >= 0"),
    (lambda: _config(scale_in_cooldown_s=-1), "warm-up and cooldowns must be >= 0"),
    (lambda: _config(bootstrap_capacity=0), "bootstrap_capacity must be >= 1"),
    (lambda: _config(bootstrap_steps=((0, 2),)), "bootstrap_steps need visible bounds and capacities >= 1"),
    (lambda: _config(bootstrap_steps=((5, 0),)), "bootstrap_steps need visible bounds and capacities >= 1"),
    (lambda: _config(shutdown_after_minutes=0), "shutdown_after_minutes must be >= 1"),
    (lambda: _config(fast_lane_steps=((1.0, 0.5),)), "fast_lane_steps need pressures > 1 and shares > 0"),
    (lambda: _config(fast_lane_steps=((1.5, 0.0),)), "fast_lane_steps need pressures > 1 and shares > 0"),
    (
        lambda: _config(scale_in_lane_steps=((0.0, 50),)),
        r"scale_in_lane_steps need pressures in \(0, 1\] and percentages in \(0, 100\)",
    ),
    (
        lambda: _config(scale_in_lane_steps=((1.5, 50),)),
        r"scale_in_lane_steps need pressures in \(0, 1\] and percentages in \(0, 100\)",
    ),
    (
        lambda: _config(scale_in_lane_steps=((0.5, 0),)),
        r"scale_in_lane_steps need pressures in \(0, 1\] and percentages in \(0, 100\)",
    ),
    (
        lambda: _config(scale_in_lane_steps=((0.5, 100),)),
        r"scale_in_lane_steps need pressures in \(0, 1\] and percentages in \(0, 100\)",
    ),
    (lambda: _config(scale_in_lane_datapoints=0), "the lanes' and the bootstrap's datapoints must be >= 1"),
    (lambda: _config(fast_lane_datapoints=0), "the lanes' and the bootstrap's datapoints must be >= 1"),
    (lambda: _config(bootstrap_datapoints=0), "the lanes' and the bootstrap's datapoints must be >= 1"),
    (
        lambda: _config(period_s=10, step_alarm_period_s=5),
        "step_alarm_period_s must be a multiple of period_s",
    ),
    (
        lambda: _config(period_s=10, step_alarm_period_s=25),
        "step_alarm_period_s must be a multiple of period_s",
    ),
    (lambda: _period(visible=-1), "counts cannot be negative: PeriodInput"),
    (lambda: _period(in_flight=-1), "counts cannot be negative: PeriodInput"),
    (lambda: _period(running=-1), "counts cannot be negative: PeriodInput"),
    (lambda: _period(desired=-1), "counts cannot be negative: PeriodInput"),
    (lambda: _period(metric=-0.5), r"metric must be a non-negative number or None, got -0\.5"),
    (lambda: _period(metric=math.nan), "metric must be a non-negative number or None, got nan"),
    (_backwards_in_time, "periods must be evaluated in time order"),
    (lambda: ControlPlane(_config()).set_target(0.0), r"target must be a positive number, got 0\.0"),
    (lambda: ControlPlane(_config()).set_target(math.nan), "target must be a positive number, got nan"),
]


@pytest.mark.parametrize(("build", "message"), REJECTED)
def test_bad_input_is_refused_with_a_message_that_names_it(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        build()


def test_messages_are_whole_sentences() -> None:
    # "^...$" on the fixed messages: nothing is added before or after them.
    for build, message in REJECTED:
        if "got" in message or ":" in message:
            continue
        with pytest.raises(ValueError) as raised:
            build()
        assert re.fullmatch(message, str(raised.value)), str(raised.value)


ACCEPTED: list[Callable[[], object]] = [
    # Every limit, exactly: the smallest or largest value that is still right.
    lambda: TargetModel(1, concurrency=1, capacity_lead_s=0, lead_time_weight=0, max_lead_share=0),
    lambda: TargetModel(0.5, lead_time_weight=1, queue_share=1, max_wait_share=1),
    lambda: GuardRails(min_target=1, max_target=1, min_samples=1, min_change_ratio=0),
    lambda: GuardRails(max_step_ratio=1.5, max_down_ratio=1.5),
    lambda: aws_guidance_target(0.5, 0.5),
    lambda: QueueAge(0, settled=True, settled_for_s=0),
    lambda: QueueAge(0.5, settled=False, settled_for_s=0.5),
    lambda: guard_target(KEEP, AGE, MODEL, None, GuardRails(), share=0),
    lambda: guard_target(KEEP, AGE, MODEL, None, GuardRails(), share=1),
    lambda: RunningJobs(0, 0.0),
    lambda: RunningJobs(0, 0.5),
    lambda: _policy(lookback_minutes=1, max_lookback_minutes=1, guard_share=0),
    lambda: _policy(lookback_minutes=10, max_lookback_minutes=10, guard_share=1),
    lambda: widen_lookback(_no_stats, 1, 1, 1),
    lambda: QueueCounts(0, 0),
    lambda: FleetCapacity(0, 0),
    lambda: BacklogSample(QueueCounts(0, 0), FleetCapacity(0, 0), peer_running=0),
    lambda: backlog_per_instance(0, 0, 0),
    lambda: scale_out_pressure(1.0, 0.5),
    lambda: scale_in_pressure(0.0, 0, 0, 0.5),
    lambda: plan_scale_in([], 0),
    lambda: _config(
        target=0.5,
        min_capacity=0,
        max_capacity=0,
        period_s=1,
        high_datapoints=1,
        low_datapoints=1,
        scale_in_ratio=1.0,
        instance_warmup_s=0,
        scale_out_cooldown_s=0,
        scale_in_cooldown_s=0,
        bootstrap_capacity=1,
        bootstrap_steps=((1, 1),),
        shutdown_after_minutes=1,
        fast_lane_steps=((1.01, 0.01),),
        scale_in_lane_steps=((1.0, 1), (0.01, 99)),
        scale_in_lane_datapoints=1,
        fast_lane_datapoints=1,
        bootstrap_datapoints=1,
        step_alarm_period_s=1,
    ),
    lambda: _config(min_capacity=2, max_capacity=2, scale_in_ratio=0.01),
    lambda: _period(metric=0.0),
    lambda: _period(metric=None),
    lambda: ControlPlane(_config()).set_target(0.5),
]


@pytest.mark.parametrize("build", ACCEPTED)
def test_values_on_the_limits_are_accepted(build: Callable[[], object]) -> None:
    build()
