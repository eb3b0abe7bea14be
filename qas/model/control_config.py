"""The scaling resources' settings, as the control-plane model (`qas.model.control_plane`) takes them.

Pure. The simulator builds them from its fleet settings (`qas.sim.policies.FleetSettings`), the demo
from the resources the template created on the emulator (`qas.demo.stack`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queue_autoscaler.common.platform import Platform
from queue_autoscaler.scaling.scale_in_lane import SCALE_IN_LANE_DATAPOINTS

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
    # ECS step policies' Cooldown (Application Auto Scaling's default for ECS services: 300 s).
    step_cooldown_s: float = 300.0
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
        cooldowns = (self.scale_out_cooldown_s, self.scale_in_cooldown_s, self.step_cooldown_s)
        if min(self.instance_warmup_s, *cooldowns) < 0:
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
        """The fast-lane policy's new capacity for this pressure (metric / target), or None below its
        steps. Above an alarm's threshold a step's lower bound is inclusive, so a pressure on a bound
        takes that step (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StepAdjustment.html);
        whether the policy runs at all is its alarm's business (GreaterThanThreshold)."""
        share = None
        for lowest, step_share in sorted(self.fast_lane_steps):
            if pressure >= lowest:
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
