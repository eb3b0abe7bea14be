"""The scaling resources' settings, as the control-plane model (`qas.model.control_plane`) takes them.

Pure. :func:`control_plane_config` is the one way to build them: from the policy spec
(`queue_autoscaler.scaling.policy_spec`), the deployment's parameters and the target. The simulator
(`qas.sim.policies.SimFleet`) and the demo (`qas.demo.stack`, which then checks the resources the
emulator deployed against the result) both call it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queue_autoscaler.common.platform import Platform
from queue_autoscaler.scaling.policy_spec import POLICY, PolicySpec


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
    # The fast-lane step policy ((lowest pressure, added share), ...); empty = no fast lane. Its alarm
    # has target tracking's period and needs this many datapoints.
    fast_lane_steps: tuple[tuple[float, float], ...] = ()
    fast_lane_datapoints: int = POLICY.fast_lane_datapoints
    bootstrap_datapoints: int = POLICY.bootstrap_datapoints
    # The scale-in lane ((pressure below, % removed), ...; scaling.scale_in_lane); empty = none. Its
    # alarm has the step alarms' period and needs this many datapoints.
    scale_in_lane_steps: tuple[tuple[float, int], ...] = ()
    scale_in_lane_datapoints: int = POLICY.scale_in_lane_datapoints

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
        if min(self.scale_in_lane_datapoints, self.fast_lane_datapoints, self.bootstrap_datapoints) < 1:
            raise ValueError("the lanes' and the bootstrap's datapoints must be >= 1")
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


@dataclass(frozen=True)
class Deployment:
    """What the user deploys that the scaling resources depend on: template parameters and facts of
    the fleet. The conditions template.yaml applies to them are :func:`control_plane_config`'s."""

    platform: Platform = Platform.EC2
    max_capacity: int = 10
    period_s: int = POLICY.period_s  # target tracking's and the fast lane's (10 with HighResolutionMetrics)
    # EC2 DefaultInstanceWarmup; None: the template's (PolicySpec.ec2_instance_warmup_s).
    instance_warmup_s: float | None = None
    shutdown_after_minutes: int = POLICY.shutdown_after_minutes  # ShutdownAfterMinutes
    keep_warm: bool = False  # KeepWarm
    keep_warm_minutes: int = POLICY.keep_warm_minutes  # KeepWarmMinutes
    fast_lane: bool = True  # FastLane
    scale_in_lane: bool = True  # ScaleInLane
    fifo: bool = False  # some queue is FIFO (the template's AnyFifoQueue)


def control_plane_config(spec: PolicySpec, deployment: Deployment, target: float) -> ControlPlaneConfig:
    """The model's settings for the scaling resources template.yaml creates with these parameters.

    The template's conditions: no fast lane on a FIFO queue (FastLaneOn); the scale-in lane as
    ScaleInLane says, FIFO or not, and with KeepWarm whatever it says (ScaleInLaneOn); KeepWarm turns
    target tracking's scale-in off and makes the shutdown alarm wait KeepWarmMinutes; on FIFO the bootstrap
    alarm's metric is 1, so its first step applies. A bootstrap step from ``k`` instances' worth of
    work starts once ``visible >= k x target`` (the alarm's metric is visible / InitialTarget).
    """
    lane = deployment.keep_warm or deployment.scale_in_lane
    (_, first_capacity), *more = spec.bootstrap_steps
    warmup = deployment.instance_warmup_s
    return ControlPlaneConfig(
        target=target,
        platform=deployment.platform,
        max_capacity=deployment.max_capacity,
        period_s=deployment.period_s,
        instance_warmup_s=float(spec.ec2_instance_warmup_s) if warmup is None else warmup,
        scale_out_cooldown_s=float(spec.ecs_scale_out_cooldown_s),
        scale_in_cooldown_s=float(spec.ecs_scale_in_cooldown_s),
        step_cooldown_s=float(spec.ecs_step_cooldown_s),
        bootstrap_capacity=first_capacity,
        bootstrap_steps=() if deployment.fifo else tuple((math.ceil(k * target), n) for k, n in more),
        shutdown_after_minutes=(
            deployment.keep_warm_minutes if deployment.keep_warm else deployment.shutdown_after_minutes
        ),
        fast_lane_steps=spec.fast_lane_steps if deployment.fast_lane and not deployment.fifo else (),
        disable_scale_in=deployment.keep_warm,
        scale_in_lane_steps=spec.scale_in_lane_steps if lane else (),
        scale_in_lane_datapoints=spec.scale_in_lane_datapoints,
        fast_lane_datapoints=spec.fast_lane_datapoints,
        bootstrap_datapoints=spec.bootstrap_datapoints,
        step_alarm_period_s=spec.step_alarm_period_s,
    )
