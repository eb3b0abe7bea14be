"""What AWS does with the scaling resources of template.yaml, one metric period at a time.

Pure (no boto3, no clock): the simulator and the local demo feed it what the metric publisher
published and apply the desired capacity it returns. It models:

* the target-tracking policy as AWS evaluates it: a high alarm (``high_datapoints`` of
  ``high_datapoints`` datapoints strictly above the target) and a low alarm (``low_datapoints`` of
  ``low_datapoints`` strictly below ``scale_in_ratio * target``); new capacity
  ``ceil(max(1, running) * metric / target)`` (= ``ceil(backlog / target)`` with our metric);
  scale-out only when that exceeds the desired capacity (instances in warm-up, or capacity added
  during a scale-out cooldown, count toward desired: no double scale-out); scale-in rounded up, so
  it removes less, never below what the metric needs; ``disable_scale_in``; min/max clamping;
* EC2 instance warm-up (no target-tracking scale-in while the last scale-out is warming up) and ECS
  cooldowns (no scale-in within ``scale_in_cooldown_s`` of a scale-in or ``scale_out_cooldown_s`` of a
  scale-out; scale-out interrupts a scale-in cooldown); ECS at 0 scales out by 1 after a single
  datapoint above target;
* a missing datapoint (``metric=None``): the target-tracking alarms see INSUFFICIENT_DATA, no action;
* the bootstrap alarm: ``visible > 0 and desired == 0``, 1 of 1 -> ExactCapacity ``bootstrap_capacity``,
  or, with ``bootstrap_steps`` (a step policy on ``IF(desired == 0, visible, 0)``), the capacity of the
  highest step whose lower bound ``visible`` reaches, so a large burst starts more than one instance;
* the shutdown alarm: ``visible + in_flight == 0 and desired > 0`` for ``ShutdownAfterMinutes`` worth of
  periods -> ExactCapacity 0;
* the fast lane: a step policy on ``metric / target`` (the publisher's ``ScaleOutPressure``) whose
  alarm needs ONE datapoint above its lowest step, not target tracking's three; it adds the
  percentage of the highest step the pressure reaches (never more than the pressure asks for, so it
  never overshoots target tracking), counted from running capacity as EC2 step scaling does while
  instances warm up, so a breach that lasts while capacity boots adds nothing twice;
* the scale-in lane (``scaling.scale_in_lane``): its step starts from the running capacity too, on
  both platforms; EC2 takes no action when the result is not below desired, ECS sets it, so while
  protected tasks drain (running > desired) a scale-in step can RAISE the desired count. ECS: "the
  actual running task count in a service is the value that Service Auto Scaling uses as its starting
  point, as opposed to the desired count"
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-auto-scaling.html);
* alarms re-fire their action every period while they stay in ALARM, as real alarms do;
* several policies at once: any one can scale out (the largest capacity wins); a step policy's
  scale-in is not blocked by target tracking.

Which instances go on scale-in is the fleet's job; `scaling.scale_in_victims.plan_scale_in` gives the
AWS default (unprotected first) for the simulator and the demo.

Stable API (the demo and the simulator use exactly this)::

    cp = ControlPlane(ControlPlaneConfig(platform=Platform.EC2, max_capacity=10, target=8.0))
    result = cp.evaluate(PeriodInput(now_s=60.0, metric=12.0, visible=10, in_flight=2,
                                     running=1, desired=1))
    result.desired        # int: the desired capacity to apply (== input desired when nothing fired)
    result.actions        # tuple[ScalingAction, ...]: every policy that fired this period
    result.alarms         # dict[AlarmName, AlarmState]: state of each alarm after this period
    cp.set_target(5.0)    # the tuner's put_scaling_policy; alarm history is kept, as AWS does
    cp.target             # the target in force

Call ``evaluate`` once per metric period (``config.period_s``), in time order, with the datapoint the
metric publisher published for the period that just ended.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from scaling.scale_in_lane import SCALE_IN_LANE_DATAPOINTS, scale_in_lane_capacity, scale_in_pressure


class Platform(StrEnum):
    EC2 = "EC2"
    ECS = "ECS"


class Source(StrEnum):
    """Which scaling resource acted."""

    TARGET_TRACKING = "target-tracking"
    BOOTSTRAP = "bootstrap"
    SHUTDOWN = "shutdown"
    FAST_LANE = "fast-lane"
    SCALE_IN_LANE = "scale-in-lane"


class AlarmName(StrEnum):
    HIGH = "target-tracking-high"
    LOW = "target-tracking-low"
    BOOTSTRAP = "bootstrap"
    SHUTDOWN = "shutdown"
    FAST_LANE = "fast-lane"
    SCALE_IN_LANE = "scale-in-lane"


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


# The fast lane's steps: (lowest pressure = metric / target, added share of running capacity). Each
# step adds what its LOWER bound asks for (pressure 2 = twice the capacity = +100%), so it never
# overshoots what target tracking would ask and target tracking finishes the job. Measured (ideal
# AWS): starting at 1.5 costs 1.24x the work on steady-tight and holds 98.77% on the d2 trace; at 1.2,
# 1.20x and 99.18%; at 1.1 the duration-shift scenario drops to 98.65% (docs/design.md).
# template.yaml writes the same numbers as StepAdjustments (tests/template checks they agree).
FAST_LANE_STEPS: tuple[tuple[float, float], ...] = (
    (1.2, 0.2),
    (1.5, 0.5),
    (2.0, 1.0),
    (3.0, 2.0),
    (5.0, 4.0),
)


@dataclass(frozen=True)
class ControlPlaneConfig:
    """The scaling resources' settings; defaults are AWS's documented/observed behaviour."""

    target: float
    platform: Platform = Platform.EC2
    min_capacity: int = 0
    max_capacity: int = 10
    period_s: int = 60
    high_datapoints: int = 3
    low_datapoints: int = 15
    scale_in_ratio: float = 0.9  # the low alarm's threshold, as a share of the target
    disable_scale_in: bool = False
    instance_warmup_s: float = 0.0  # EC2 DefaultInstanceWarmup (the template sets it; 0 is allowed)
    scale_out_cooldown_s: float = 300.0  # ECS (Application Auto Scaling)
    scale_in_cooldown_s: float = 300.0  # ECS
    bootstrap_capacity: int = 1  # ExactCapacity of the bootstrap step policy
    # Extra steps: (lowest visible count, ExactCapacity), for a burst into an empty fleet.
    bootstrap_steps: tuple[tuple[int, int], ...] = ()
    shutdown_after_minutes: int = 15  # template parameter ShutdownAfterMinutes
    # The bootstrap and shutdown alarms' Period (the template: 60 s, also in high-resolution mode,
    # where target tracking runs on 10 s periods). None: period_s. A multiple of period_s; they are
    # evaluated on the Maximum of their period's datapoints, once per period of theirs.
    step_alarm_period_s: int | None = None
    ecs_scale_out_from_zero: bool = True  # ECS target tracking leaves 0 by 1 after one datapoint
    # The fast-lane step policy ((lowest pressure, added share), ...); empty = no fast lane.
    fast_lane_steps: tuple[tuple[float, float], ...] = ()
    # The scale-in lane ((pressure below, % removed), ...; scaling.scale_in_lane); empty = none. Its
    # alarm has the step alarms' period and needs this many datapoints.
    scale_in_lane_steps: tuple[tuple[float, int], ...] = ()
    scale_in_lane_datapoints: int = SCALE_IN_LANE_DATAPOINTS

    def __post_init__(self) -> None:
        if not math.isfinite(self.target) or self.target <= 0:
            raise ValueError("target must be a positive number")
        if self.min_capacity < 0 or self.max_capacity < self.min_capacity:
            raise ValueError("need 0 <= min_capacity <= max_capacity")
        if self.period_s <= 0:
            raise ValueError("period_s must be > 0")
        if self.high_datapoints < 1 or self.low_datapoints < 1:
            raise ValueError("datapoints must be >= 1")
        if not 0 < self.scale_in_ratio <= 1:
            raise ValueError("scale_in_ratio must be within (0, 1]")
        if min(self.instance_warmup_s, self.scale_out_cooldown_s, self.scale_in_cooldown_s) < 0:
            raise ValueError("warm-up and cooldowns must be >= 0")
        if self.bootstrap_capacity < 1:
            raise ValueError("bootstrap_capacity must be >= 1")
        if any(bound < 1 or capacity < 1 for bound, capacity in self.bootstrap_steps):
            raise ValueError("bootstrap_steps need visible bounds and capacities >= 1")
        if self.shutdown_after_minutes < 1:
            raise ValueError("shutdown_after_minutes must be >= 1")
        if any(pressure <= 1 or share <= 0 for pressure, share in self.fast_lane_steps):
            raise ValueError("fast_lane_steps need pressures > 1 and shares > 0")
        if any(not 0 < upper <= 1 or not 0 < removed < 100 for upper, removed in self.scale_in_lane_steps):
            raise ValueError("scale_in_lane_steps need pressures in (0, 1] and percentages in (0, 100)")
        if self.scale_in_lane_datapoints < 1:
            raise ValueError("scale_in_lane_datapoints must be >= 1")
        if self.step_alarm_period_s is not None and (
            self.step_alarm_period_s < self.period_s or self.step_alarm_period_s % self.period_s
        ):
            raise ValueError("step_alarm_period_s must be a multiple of period_s")

    def fast_lane_for(self, pressure: float, running: int) -> int | None:
        """The fast lane's new capacity for this pressure (metric / target), or None below its steps."""
        share = None
        for lowest, step_share in sorted(self.fast_lane_steps):
            if pressure > lowest:
                share = step_share
        if share is None:
            return None
        # EC2 rounds a percentage down and MinAdjustmentMagnitude 1 makes it at least one instance.
        return running + max(1, math.floor(running * share))

    def bootstrap_for(self, visible: int) -> int:
        """The bootstrap policy's ExactCapacity for this many visible messages (before min/max)."""
        capacity = self.bootstrap_capacity
        for bound, step_capacity in sorted(self.bootstrap_steps):
            if visible >= bound:
                capacity = step_capacity
        return capacity

    @property
    def step_period_s(self) -> int:
        return self.period_s if self.step_alarm_period_s is None else self.step_alarm_period_s

    @property
    def shutdown_datapoints(self) -> int:
        return max(1, math.ceil(self.shutdown_after_minutes * 60 / self.step_period_s))


@dataclass(frozen=True)
class PeriodInput:
    """What the metric publisher published for the period ending at ``now_s``."""

    now_s: float
    metric: float | None  # the value the target-tracking policy tracks; None = missing datapoint
    visible: int
    in_flight: int
    running: int  # EC2 InService instances / ECS running tasks: where step adjustments start
    desired: int
    # The published ScaleInPressure; None: computed from the metric, as the publisher does.
    scale_in_pressure: float | None = None

    def __post_init__(self) -> None:
        if min(self.visible, self.in_flight, self.running, self.desired) < 0:
            raise ValueError(f"counts cannot be negative: {self}")
        if self.metric is not None and (not math.isfinite(self.metric) or self.metric < 0):
            raise ValueError(f"metric must be a non-negative number or None, got {self.metric!r}")
        if self.scale_in_pressure is not None and not self.scale_in_pressure >= 0:
            raise ValueError(f"scale_in_pressure must be >= 0, got {self.scale_in_pressure!r}")

    @classmethod
    def missing(cls, now_s: float, running: int, desired: int) -> PeriodInput:
        """The publisher did not publish: target tracking sees a missing datapoint (metric=None);
        the bootstrap and shutdown alarms treat missing data as notBreaching (the template's
        TreatMissingData), which visible=0 and in_flight=1 express whatever the capacity."""
        return cls(now_s=now_s, metric=None, visible=0, in_flight=1, running=running, desired=desired)


@dataclass(frozen=True)
class ScalingAction:
    """One policy firing: the capacity it asked for, and whether that changed the desired capacity."""

    time_s: float
    source: Source
    previous: int  # desired capacity before this period
    capacity: int  # what this policy asked for
    applied: bool  # this policy's capacity is the period's result and differs from ``previous``
    reason: str

    @property
    def is_scale_out(self) -> bool:
        return self.capacity > self.previous


@dataclass(frozen=True)
class PeriodResult:
    desired: int
    actions: tuple[ScalingAction, ...]
    alarms: dict[AlarmName, AlarmState]

    @property
    def changed(self) -> bool:
        return any(action.applied for action in self.actions)


@dataclass
class _Window:
    """The last N datapoints of one alarm (None = missing), judged by a threshold test at evaluation."""

    size: int
    points: deque[float | None] = field(init=False)

    def __post_init__(self) -> None:
        self.points = deque(maxlen=self.size)

    def push(self, point: float | None) -> None:
        self.points.append(point)

    def state(self, breaching: Callable[[float], bool]) -> AlarmState:
        if len(self.points) < self.size or any(p is None for p in self.points):
            return AlarmState.INSUFFICIENT_DATA
        return AlarmState.ALARM if all(breaching(p) for p in self.points if p is not None) else AlarmState.OK


# Neutral (bootstrap, shutdown, scale-in pressure) before a step period's first sample.
_STEP_START = (0.0, 1.0, -math.inf)


def _positive(value: float) -> bool:
    return value > 0


class ControlPlane:
    """The target-tracking, bootstrap and shutdown policies of one fleet."""

    def __init__(self, config: ControlPlaneConfig) -> None:
        self.config = config
        self._target = config.target
        self._high = _Window(config.high_datapoints)
        self._low = _Window(config.low_datapoints)
        self._bootstrap = _Window(1)
        self._shutdown = _Window(config.shutdown_datapoints)
        self._fast = _Window(1)
        self._lane = _Window(config.scale_in_lane_datapoints)
        # Sub-periods per step-alarm period, and the current one's (bootstrap, shutdown, scale-in
        # pressure) so far.
        self._per_step = config.step_period_s // config.period_s
        self._step_seen = 0
        self._step_acc = _STEP_START
        self._last_scale_out_s: float | None = None
        self._last_scale_in_s: float | None = None
        self._last_time_s: float | None = None

    @property
    def target(self) -> float:
        return self._target

    def set_target(self, value: float) -> None:
        """The tuner's update of ``TargetValue``; the alarms keep their datapoints (they are re-created
        with the new threshold, but the metric history they evaluate is the same)."""
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"target must be a positive number, got {value!r}")
        self._target = value

    def alarm_states(self) -> dict[AlarmName, AlarmState]:
        return {
            AlarmName.HIGH: self._high_state(),
            AlarmName.LOW: self._low_state(),
            AlarmName.BOOTSTRAP: self._bootstrap.state(_positive),
            AlarmName.SHUTDOWN: self._shutdown.state(_positive),
            AlarmName.FAST_LANE: self._fast_state(),
            AlarmName.SCALE_IN_LANE: self._lane_state(),
        }

    def _lane_state(self) -> AlarmState:
        if not self.config.scale_in_lane_steps:
            return AlarmState.OK
        threshold = max(upper for upper, _ in self.config.scale_in_lane_steps)
        # TreatMissingData notBreaching: a missing datapoint counts as not below the threshold.
        return self._lane.state(lambda p: p < threshold)

    def _lane_pressure(self, period: PeriodInput) -> float:
        """The published ScaleInPressure; a missing datapoint (or no lane) is never below it."""
        steps = self.config.scale_in_lane_steps
        if period.metric is None or not steps:
            return math.inf  # TreatMissingData notBreaching
        if period.scale_in_pressure is not None:
            return period.scale_in_pressure
        return scale_in_pressure(period.metric, period.running, period.desired, self._target, steps)

    def _fast_state(self) -> AlarmState:
        if not self.config.fast_lane_steps:
            return AlarmState.OK
        threshold = min(pressure for pressure, _ in self.config.fast_lane_steps)
        return self._fast.state(lambda p: p > threshold)

    def _high_state(self) -> AlarmState:
        return self._high.state(lambda m: m > self._target)

    def _low_state(self) -> AlarmState:
        if self.config.disable_scale_in:
            return AlarmState.OK  # AWS creates no low alarm then
        return self._low.state(lambda m: m < self.config.scale_in_ratio * self._target)

    def evaluate(self, period: PeriodInput) -> PeriodResult:
        """Push this period's datapoints into every alarm and apply what fires."""
        cfg = self.config
        if self._last_time_s is not None and period.now_s < self._last_time_s:
            raise ValueError("periods must be evaluated in time order")
        self._last_time_s = period.now_s
        now, desired, metric = period.now_s, period.desired, period.metric

        # The target-tracking alarms keep raw values: a new target re-creates them with a new
        # threshold over the same metric history. Bootstrap and shutdown are metric-math 0/1 series.
        self._high.push(metric)
        self._low.push(metric)
        step_due = self._push_step_alarms(period)
        self._fast.push(None if metric is None else metric / self._target)

        proposals: list[tuple[Source, int, str]] = []
        tracked = self._target_tracking(period)
        if tracked is not None:
            proposals.append(tracked)
        if step_due and self._bootstrap.state(_positive) is AlarmState.ALARM:
            capacity = self._clamp(cfg.bootstrap_for(period.visible))
            proposals.append((Source.BOOTSTRAP, capacity, f"visible={period.visible} with desired=0"))
        fast = self._fast.points[-1] if self._fast.points else None
        if fast is not None and desired > 0 and self._fast_state() is AlarmState.ALARM:
            stepped = cfg.fast_lane_for(fast, period.running)
            if stepped is not None and self._clamp(stepped) > desired:
                reason = f"pressure {fast:.2f} with {period.running} running"
                proposals.append((Source.FAST_LANE, self._clamp(stepped), reason))
        if step_due and self._lane_state() is AlarmState.ALARM:
            pressure = self._lane.points[-1]
            lane = self._lane_capacity(pressure, period)
            if lane is not None:
                reason = f"scale-in pressure {pressure:.2f} for {cfg.scale_in_lane_datapoints} periods"
                proposals.append((Source.SCALE_IN_LANE, lane, reason))
        if step_due and self._shutdown.state(_positive) is AlarmState.ALARM:
            proposals.append(
                (Source.SHUTDOWN, 0, f"queue empty for {cfg.shutdown_datapoints} periods with desired>0")
            )

        new_desired, winner = self._resolve(desired, proposals)
        if new_desired > desired:
            self._last_scale_out_s = now
        elif new_desired < desired:
            self._last_scale_in_s = now
        actions = tuple(
            ScalingAction(
                time_s=now,
                source=source,
                previous=desired,
                capacity=capacity,
                applied=winner == source and new_desired != desired,
                reason=reason,
            )
            for source, capacity, reason in proposals
        )
        return PeriodResult(new_desired, actions, self.alarm_states())

    def _push_step_alarms(self, period: PeriodInput) -> bool:
        """Feed the bootstrap, shutdown and scale-in-lane alarms; True when they evaluate this period
        (every period, unless their Period is longer than target tracking's)."""
        bootstrap = float(period.visible > 0 and period.desired == 0)
        shutdown = float(period.visible + period.in_flight == 0 and period.desired > 0)
        lane = self._lane_pressure(period)
        if self._per_step > 1:
            # Maximum statistics: work waited at some sample (bootstrap); the queue was empty at
            # every sample (shutdown: the Maximum of visible + in flight is 0); the highest pressure.
            seen_bootstrap, seen_shutdown, seen_lane = self._step_acc
            bootstrap, shutdown = max(bootstrap, seen_bootstrap), min(shutdown, seen_shutdown)
            lane = max(lane, seen_lane)
            self._step_seen += 1
            if self._step_seen < self._per_step:
                self._step_acc = (bootstrap, shutdown, lane)
                return False
            self._step_seen, self._step_acc = 0, _STEP_START
        self._bootstrap.push(bootstrap)
        self._shutdown.push(shutdown)
        self._lane.push(lane)
        return True

    def _lane_capacity(self, pressure: float | None, period: PeriodInput) -> int | None:
        """What the scale-in lane's step sets the desired capacity to, or None for no action.

        The step starts from the running capacity. EC2 takes no action when the result is not below
        the desired capacity; ECS sets it, so while protected tasks drain (running > desired) a
        scale-in step can raise the desired count (see the module docstring's sources).
        """
        if pressure is None:
            return None
        stepped = scale_in_lane_capacity(pressure, period.running, self.config.scale_in_lane_steps)
        if stepped is None:
            return None
        capacity = self._clamp(stepped)
        if capacity < period.desired or (self.config.platform is Platform.ECS and capacity > period.desired):
            return capacity
        return None

    def _clamp(self, capacity: int) -> int:
        return min(max(capacity, self.config.min_capacity), self.config.max_capacity)

    def _target_tracking(self, period: PeriodInput) -> tuple[Source, int, str] | None:
        cfg, metric, desired, now = self.config, period.metric, period.desired, period.now_s
        if metric is None:
            return None
        src = Source.TARGET_TRACKING
        if cfg.platform is Platform.ECS and desired == 0 and cfg.ecs_scale_out_from_zero:
            if metric > self._target:
                return (src, self._clamp(1), f"ECS from 0: metric {metric:g} > target {self._target:g}")
            return None
        wanted = math.ceil(max(1, period.running) * metric / self._target)
        if self._high_state() is AlarmState.ALARM:
            # Warming instances / capacity added in the cooldown count toward desired: only the rest.
            if self._clamp(wanted) > desired:
                return (src, self._clamp(wanted), f"high alarm: metric {metric:g} > target {self._target:g}")
            return None
        if self._low_state() is not AlarmState.ALARM:
            return None
        if cfg.platform is Platform.EC2:
            if self._last_scale_out_s is not None and now < self._last_scale_out_s + cfg.instance_warmup_s:
                return None
        else:
            if self._last_scale_in_s is not None and now < self._last_scale_in_s + cfg.scale_in_cooldown_s:
                return None
            if self._last_scale_out_s is not None and now < self._last_scale_out_s + cfg.scale_out_cooldown_s:
                return None
        if self._clamp(wanted) < desired:
            low = cfg.scale_in_ratio * self._target
            return (src, self._clamp(wanted), f"low alarm: metric {metric:g} < {low:g}")
        return None

    @staticmethod
    def _resolve(desired: int, proposals: list[tuple[Source, int, str]]) -> tuple[int, Source | None]:
        """Any policy may scale out (the largest wins); otherwise the lowest scale-in applies."""
        if not proposals:
            return desired, None
        out = [p for p in proposals if p[1] > desired]
        if out:
            best = max(out, key=lambda p: p[1])
            return best[1], best[0]
        inward = [p for p in proposals if p[1] < desired]
        if inward:
            best = min(inward, key=lambda p: p[1])
            return best[1], best[0]
        return desired, None
