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
* missing datapoints as CloudWatch evaluates them (`qas.model.alarm`): each alarm evaluates the newest
  existing datapoints of its evaluation range and fills in missing ones with its TreatMissingData
  (``TREAT_MISSING``) only when too few exist; a policy it invokes acts on the newest one;
* the bootstrap alarm: ``visible > 0 and desired == 0``, 1 of 1 -> ExactCapacity ``bootstrap_capacity``,
  or, with ``bootstrap_steps`` (a step policy on ``IF(desired == 0, visible, 0)``), the capacity of the
  highest step whose lower bound ``visible`` reaches, so a large burst starts more than one instance;
* the shutdown alarm: ``visible + in_flight == 0 and desired > 0`` for ``ShutdownAfterMinutes`` worth of
  periods -> ExactCapacity 0;
* the fast lane: a step policy on the published ``ScaleOutPressure`` whose alarm needs ONE datapoint
  above its lowest step; it adds the share of the highest step whose (inclusive) lower bound the
  pressure reaches, counted from running capacity as EC2 step scaling does while instances warm up,
  so a breach that lasts while capacity boots adds nothing twice;
* the scale-in lane (``scaling.scale_in_lane``, which has the sources) on the published
  ``ScaleInPressure``: its step starts from the running capacity on both platforms; EC2 takes no
  action when the result is not below desired, ECS sets it (a step can RAISE desired while protected
  tasks drain);
* ECS step policies' ``Cooldown`` (``step_cooldown_s``): a step policy's scale-in waits out the
  cooldown after its own last scale-in; EC2 step policies have none;
* alarms re-fire their action every period while they stay in ALARM, as real alarms do;
* several policies at once: of those that change the capacity, the one giving the largest capacity
  applies, scale-out or scale-in; a step policy's scale-in is not blocked by target tracking.

Which instances go on scale-in is the fleet's job; `qas.model.scale_in_victims.plan_scale_in` gives the
AWS default (unprotected first) for the simulator and the demo.

Stable API (the demo and the simulator use exactly this)::

    cp = ControlPlane(ControlPlaneConfig(platform=Platform.EC2, max_capacity=10, target=8.0))
    result = cp.evaluate(PeriodInput(now_s=60.0, metric=12.0, visible=10, in_flight=2,
                                     running=1, desired=1, scale_out_pressure=1.5,
                                     scale_in_pressure=1.0))
    result.desired        # int: the desired capacity to apply (== input desired when nothing fired)
    result.actions        # tuple[ScalingAction, ...]: every policy that fired this period
    result.alarms         # dict[AlarmName, AlarmState]: state of each alarm after this period
    cp.set_target(5.0)    # the tuner's put_scaling_policy; alarm history is kept, as AWS does
    cp.target             # the target in force

Call ``evaluate`` once per metric period (``config.period_s``), in time order, with the datapoints the
metric publisher published for the period that just ended (``PeriodInput.missing`` when it did not).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from qas.model.alarm import Alarm, TreatMissing
from qas.model.alarm import AlarmState as AlarmState  # noqa: PLC0414 (re-exported: part of this API)
from qas.model.control_config import ControlPlaneConfig as ControlPlaneConfig  # noqa: PLC0414 (re-exported)
from qas.model.platforms import model_platform
from queue_autoscaler.common.platform import Platform as Platform  # noqa: PLC0414 (re-exported)
from queue_autoscaler.scaling.scale_in_lane import scale_in_lane_capacity


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


# Each alarm's TreatMissingData. The template's own alarms: as template.yaml sets them
# (tests/template/test_policy_spec.py checks they agree). Target tracking's alarms are created by AWS,
# which documents no TreatMissingData for them: the model takes PutMetricAlarm's default, missing
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
TREAT_MISSING: dict[AlarmName, TreatMissing] = {
    AlarmName.HIGH: TreatMissing.MISSING,
    AlarmName.LOW: TreatMissing.MISSING,
    AlarmName.BOOTSTRAP: TreatMissing.NOT_BREACHING,
    AlarmName.SHUTDOWN: TreatMissing.NOT_BREACHING,
    AlarmName.FAST_LANE: TreatMissing.MISSING,
    AlarmName.SCALE_IN_LANE: TreatMissing.NOT_BREACHING,
}
# The step policies (the rest is target tracking).
STEP_SOURCES = frozenset({Source.BOOTSTRAP, Source.SHUTDOWN, Source.FAST_LANE, Source.SCALE_IN_LANE})


@dataclass(frozen=True)
class PeriodInput:
    """What the metric publisher published for the period ending at ``now_s``."""

    now_s: float
    metric: float | None  # the value the target-tracking policy tracks; None = missing datapoint
    visible: int
    in_flight: int
    running: int  # EC2 InService instances / ECS running tasks: where step adjustments start
    desired: int
    # The published ScaleOutPressure and ScaleInPressure (computed with the target the publisher
    # read); None: not published (the publisher could not read the target), a missing datapoint.
    scale_out_pressure: float | None = None
    scale_in_pressure: float | None = None
    missed: bool = False  # the publisher published nothing: every alarm's datapoint is missing

    def __post_init__(self) -> None:
        if min(self.visible, self.in_flight, self.running, self.desired) < 0:
            raise ValueError(f"counts cannot be negative: {self}")
        for name in ("metric", "scale_out_pressure", "scale_in_pressure"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{name} must be a non-negative number or None, got {value!r}")
        published = (self.metric, self.scale_out_pressure, self.scale_in_pressure)
        if self.missed and published != (None, None, None):
            raise ValueError("a missed period has no datapoints")

    @classmethod
    def missing(cls, now_s: float, running: int, desired: int) -> PeriodInput:
        """The publisher did not publish: no datapoint for any alarm. Running and desired capacity are
        the Auto Scaling service's own, where a policy's step starts and what it compares with."""
        return cls(now_s, None, visible=0, in_flight=0, running=running, desired=desired, missed=True)


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


# No datapoint yet in a step period: (bootstrap, shutdown, scale-in pressure).
_STEP_START: tuple[float | None, float | None, float | None] = (None, None, None)


def _combine(pick: Callable[[float, float], float], seen: float | None, point: float | None) -> float | None:
    """A period's statistic over its samples, skipping missing ones."""
    if seen is None or point is None:
        return point if seen is None else seen
    return pick(seen, point)


def _positive(value: float) -> bool:
    return value > 0


class ControlPlane:
    """The target-tracking and step policies of one fleet, with the alarms that invoke them."""

    def __init__(self, config: ControlPlaneConfig) -> None:
        self.config = config
        self._platform = model_platform(config.platform)
        self._target = config.target

        def alarm(name: AlarmName, periods: int) -> Alarm:
            return Alarm(periods, TREAT_MISSING[name])

        self._high = alarm(AlarmName.HIGH, config.high_datapoints)
        self._low = alarm(AlarmName.LOW, config.low_datapoints)
        self._bootstrap = alarm(AlarmName.BOOTSTRAP, config.bootstrap_datapoints)
        self._shutdown = alarm(AlarmName.SHUTDOWN, config.shutdown_datapoints)
        self._fast = alarm(AlarmName.FAST_LANE, config.fast_lane_datapoints)
        self._lane = alarm(AlarmName.SCALE_IN_LANE, config.scale_in_lane_datapoints)
        # Sub-periods per step-alarm period, and the current one's (bootstrap, shutdown, scale-in
        # pressure) so far.
        self._per_step = config.step_period_s // config.period_s
        self._step_seen = 0
        self._step_acc = _STEP_START
        self._last_scale_out_s: float | None = None
        self._last_scale_in_s: float | None = None
        self._step_scale_in_s: dict[Source, float] = {}  # each step policy's last scale-in
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
        return self._lane.state(lambda p: p < threshold)

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
        now, desired = period.now_s, period.desired

        # The target-tracking alarms keep raw values: a new target re-creates them with a new
        # threshold over the same metric history. The pressures are the published ones.
        self._high.push(period.metric)
        self._low.push(period.metric)
        step_due = self._push_step_alarms(period)
        self._fast.push(period.scale_out_pressure)

        proposals: list[tuple[Source, int, str]] = []
        tracked = self._target_tracking(period)
        if tracked is not None:
            proposals.append(tracked)
        visible = self._bootstrap.latest()
        if step_due and visible is not None and self._bootstrap.state(_positive) is AlarmState.ALARM:
            capacity = self._clamp(cfg.bootstrap_for(round(visible)))
            proposals.append((Source.BOOTSTRAP, capacity, f"visible={round(visible)} with desired=0"))
        fast = self._fast.latest()
        if fast is not None and desired > 0 and self._fast_state() is AlarmState.ALARM:
            stepped = cfg.fast_lane_for(fast, period.running)
            if stepped is not None and self._clamp(stepped) > desired:
                reason = f"pressure {fast:.2f} with {period.running} running"
                proposals.append((Source.FAST_LANE, self._clamp(stepped), reason))
        pressure = self._lane.latest()
        if step_due and pressure is not None and self._lane_state() is AlarmState.ALARM:
            lane = self._lane_capacity(pressure, period)
            if lane is not None:
                reason = f"scale-in pressure {pressure:.2f} for {cfg.scale_in_lane_datapoints} periods"
                proposals.append((Source.SCALE_IN_LANE, lane, reason))
        if step_due and self._shutdown.state(_positive) is AlarmState.ALARM:
            proposals.append(
                (Source.SHUTDOWN, 0, f"queue empty for {cfg.shutdown_datapoints} periods with desired>0")
            )
        proposals = [p for p in proposals if not self._step_cooling_down(p[0], p[1], period)]

        new_desired, winner = self._resolve(desired, proposals)
        if new_desired > desired:
            self._last_scale_out_s = now
        elif new_desired < desired:
            self._last_scale_in_s = now
            if winner in STEP_SOURCES:
                self._step_scale_in_s[winner] = now
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

    def _step_cooling_down(self, source: Source, capacity: int, period: PeriodInput) -> bool:
        """An ECS step policy's scale-in within its Cooldown of its own last scale-in: Application Auto
        Scaling blocks it ("the cooldown period is used to block subsequent scale in requests until it
        has expired"; a scale-out is not blocked:
        https://docs.aws.amazon.com/autoscaling/application/APIReference/API_StepScalingPolicyConfiguration.html).
        The cooldown starts when the scaling activity completes, a moment after the action, so a
        request exactly one cooldown after it is still inside. EC2 step policies have no cooldown."""
        last = self._step_scale_in_s.get(source)
        cooldown = self._platform.step_scale_in_cooldown_s(self.config)
        return (
            cooldown is not None
            and capacity < period.desired
            and last is not None
            and period.now_s - last <= cooldown
        )

    def _push_step_alarms(self, period: PeriodInput) -> bool:
        """Feed the bootstrap, shutdown and scale-in-lane alarms; True when they evaluate this period
        (every period, unless their Period is longer than target tracking's)."""
        bootstrap: float | None = None
        shutdown: float | None = None
        if not period.missed:
            bootstrap = float(period.visible) if period.desired == 0 else 0.0
            shutdown = float(period.visible + period.in_flight == 0 and period.desired > 0)
        lane = period.scale_in_pressure
        if self._per_step > 1:
            # Maximum statistics: work waited at some sample (bootstrap); the queue was empty at
            # every sample (shutdown: the Maximum of visible + in flight is 0); the highest pressure.
            # A step period without any sample is a missing datapoint.
            seen_bootstrap, seen_shutdown, seen_lane = self._step_acc
            bootstrap = _combine(max, seen_bootstrap, bootstrap)
            shutdown = _combine(min, seen_shutdown, shutdown)
            lane = _combine(max, seen_lane, lane)
            self._step_seen += 1
            if self._step_seen < self._per_step:
                self._step_acc = (bootstrap, shutdown, lane)
                return False
            self._step_seen, self._step_acc = 0, _STEP_START
        self._bootstrap.push(bootstrap)
        self._shutdown.push(shutdown)
        self._lane.push(lane)
        return True

    def _lane_capacity(self, pressure: float, period: PeriodInput) -> int | None:
        """What the scale-in lane's step sets the desired capacity to, or None for no action.

        The step starts from the running capacity. EC2 takes no action when the result is not below
        the desired capacity; ECS sets it, so while protected tasks drain (running > desired) a
        scale-in step can raise the desired count (see the module docstring's sources).
        """
        stepped = scale_in_lane_capacity(pressure, period.running, self.config.scale_in_lane_steps)
        if stepped is None:
            return None
        capacity = self._clamp(stepped)
        if capacity < period.desired or (self._platform.step_may_raise_desired and capacity > period.desired):
            return capacity
        return None

    def _clamp(self, capacity: int) -> int:
        return min(max(capacity, self.config.min_capacity), self.config.max_capacity)

    def _target_tracking(self, period: PeriodInput) -> tuple[Source, int, str] | None:
        """Target tracking's request: its alarms evaluate their ranges, and the capacity follows the
        newest datapoint the alarm in ALARM holds."""
        cfg, desired, now = self.config, period.desired, period.now_s
        src = Source.TARGET_TRACKING
        if self._platform.scales_out_from_zero(cfg, desired):
            metric = self._high.latest()
            if metric is not None and metric > self._target:
                return (src, self._clamp(1), f"ECS from 0: metric {metric:g} > target {self._target:g}")
            return None
        high = self._high.latest()
        if high is not None and self._high_state() is AlarmState.ALARM:
            # Warming instances / capacity added in the cooldown count toward desired: only the rest.
            wanted = math.ceil(max(1, period.running) * high / self._target)
            if self._clamp(wanted) > desired:
                return (src, self._clamp(wanted), f"high alarm: metric {high:g} > target {self._target:g}")
            return None
        low = self._low.latest()
        if low is None or self._low_state() is not AlarmState.ALARM:
            return None
        if self._platform.scale_in_held(cfg, now, self._last_scale_out_s, self._last_scale_in_s):
            return None
        wanted = math.ceil(max(1, period.running) * low / self._target)
        if self._clamp(wanted) < desired:
            threshold = cfg.scale_in_ratio * self._target
            return (src, self._clamp(wanted), f"low alarm: metric {low:g} < {threshold:g}")
        return None

    @staticmethod
    def _resolve(desired: int, proposals: list[tuple[Source, int, str]]) -> tuple[int, Source | None]:
        """Of the policies that change the capacity, the largest capacity applies, out or in (EC2:
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scale-based-on-demand.html, "Multiple
        dynamic scaling policies"; ECS: API_PutScalingPolicy). A scale-in that lost is asked again a
        period later by its alarm, if still in ALARM."""
        changes = [p for p in proposals if p[1] != desired]
        if not changes:
            return desired, None
        best = max(changes, key=lambda p: p[1])
        return best[1], best[0]
