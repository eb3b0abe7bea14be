"""The stack the demo runs on: the real template deployed on the emulator, with demo-scaled parameters."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from qas import emulator
from qas.demo import attach
from qas.demo.config import DemoConfig
from qas.emulator import AlarmDefinition, ScalingResources, StepAdjustment, StepPolicyDefinition
from qas.model.control_config import Deployment
from qas.model.control_config import control_plane_config as model_config
from qas.model.control_plane import ControlPlaneConfig
from qas.model.platforms import model_platform
from queue_autoscaler.scaling.policy_spec import POLICY
from queue_autoscaler.scaling.target import DurationStats, GuardRails, TargetModel
from queue_autoscaler.scaling.target import initial_target as formula_target

# Target tracking's high alarm needs 3 one-minute datapoints: part of the capacity lead time.
ALARM_MINUTES = 3
SHUTDOWN_GRACE_S = 10  # real seconds; the template's minimum is 5 (AWS default 100)
VISIBILITY_TIMEOUT_S = 30  # real seconds; the template's minimum is 10
STACK_NAME = "qas-demo"


@dataclass(frozen=True)
class DeployedStack:
    endpoint_url: str
    outputs: Mapping[str, str]
    namespace: str
    control: ControlPlaneConfig  # the template's scaling resources, as the shared model takes them
    shutdown_grace_s: float = SHUTDOWN_GRACE_S


def capacity_lead_s(cfg: DemoConfig) -> float:
    """Alarm evaluation plus boot, in real seconds on the demo clock."""
    return cfg.real_seconds(ALARM_MINUTES + cfg.boot_minutes)


def initial_target(cfg: DemoConfig) -> int:
    """The template cannot divide, so the demo computes InitialTarget with the tuner's own formula
    from the profile's declared durations (the tuner then retunes it from measured ones)."""
    mean, tail = cfg.profile.expected_seconds()
    model = TargetModel(cfg.slo_seconds, cfg.worker_concurrency, capacity_lead_s(cfg))
    expected = DurationStats(samples=1, mean_s=mean, tail_s=tail)
    return max(1, round(formula_target(expected, model, GuardRails())))


def stack_parameters(cfg: DemoConfig) -> dict[str, str]:
    return {
        "WorkerPlatform": str(cfg.platform),
        "WorkerConcurrency": str(cfg.worker_concurrency),
        "MaxCapacity": str(cfg.max_capacity),
        "WorkerVisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
        "WorkerShutdownGraceSeconds": str(SHUTDOWN_GRACE_S),
        "LatencySloSeconds": f"{cfg.slo_seconds:g}",
        "InitialTarget": str(initial_target(cfg)),
        "CapacityLeadSeconds": f"{capacity_lead_s(cfg):g}",
        "ShutdownAfterMinutes": str(cfg.shutdown_after_minutes),
        # One publisher sample per demo minute: a 10 s loop would last 60 real seconds.
        "HighResolutionMetrics": "false",
        "FastLane": str(cfg.fast_lane).lower(),
        "ScaleInLane": str(cfg.scale_in_lane).lower(),
        "KeepWarm": str(cfg.keep_warm_minutes is not None).lower(),
        **({"KeepWarmMinutes": str(cfg.keep_warm_minutes)} if cfg.keep_warm_minutes is not None else {}),
        **(attach.attach_parameters(cfg.platform) if cfg.attach else {}),
    }


def bootstrap_steps(steps: Sequence[StepAdjustment], initial_target: float) -> tuple[tuple[int, int], ...]:
    """The bootstrap policy's steps as the model takes them: (visible messages, ExactCapacity).

    The bootstrap alarm's metric is visible / InitialTarget (instances' worth of waiting work), so a
    step from k starts once visible >= k x InitialTarget. The step from 0 is ``bootstrap_capacity``.
    """
    return tuple(
        (max(1, math.ceil(step.lower_bound * initial_target)), step.scaling_adjustment)
        for step in steps
        if step.lower_bound is not None and step.lower_bound > 0
    )


def alarm_policy(
    scaling: ScalingResources, alarm_name: str
) -> tuple[AlarmDefinition, StepPolicyDefinition] | None:
    """A step-policy alarm of the template and the policy it invokes; None when its condition is off."""
    alarm = scaling.alarms.get(alarm_name)
    policy = None if alarm is None else scaling.policy_of(alarm)
    return None if alarm is None or policy is None else (alarm, policy)


def fast_lane_steps(scaling: ScalingResources) -> tuple[tuple[float, float], ...]:
    """The fast-lane policy as the model takes it: (pressure, share of capacity); () when FastLane=false.

    Its StepAdjustments are relative to the alarm's threshold and in percent.
    """
    found = alarm_policy(scaling, "FastLaneAlarm")
    if found is None:
        return ()
    alarm, policy = found
    return tuple(
        (round(alarm.threshold + (step.lower_bound or 0.0), 6), step.scaling_adjustment / 100)
        for step in policy.steps
    )


def scale_in_lane_steps(scaling: ScalingResources) -> tuple[tuple[float, int], ...]:
    """The scale-in lane as the model takes it: (pressure below, % removed); () when ScaleInLane=false.

    Its StepAdjustments are relative to the alarm's threshold (upper bounds <= 0; none: up to the
    threshold, which a LessThanThreshold alarm never reaches) and negative percentages.
    """
    found = alarm_policy(scaling, "ScaleInLaneAlarm")
    if found is None:
        return ()
    alarm, policy = found
    return tuple(
        sorted(
            (round(alarm.threshold + (step.upper_bound or 0.0), 6), -step.scaling_adjustment)
            for step in policy.steps
        )
    )


def step_cooldown_s(scaling: ScalingResources) -> float | None:
    """The step policies' Cooldown (ECS; EC2 step policies have none): one value for all of them,
    as the model takes it. None when no step policy sets one."""
    named = {p.logical_id: p.cooldown_s for p in scaling.step_policies.values() if p.cooldown_s is not None}
    cooldowns = set(named.values())
    if len(cooldowns) > 1:
        raise ValueError(f"the step policies' Cooldown differ, the model takes one: {named}")
    return float(cooldowns.pop()) if cooldowns else None


def deployment(cfg: DemoConfig) -> Deployment:
    """The parameters `stack_parameters` deploys, as the model's settings take them."""
    # Attached (EC2): the user's group's warm-up, which the stack does not set (qas.demo.attach).
    warms_up = model_platform(cfg.platform).instance_warmup
    attached_warmup = float(attach.GROUP_WARMUP_S) if cfg.attach and warms_up else None
    return Deployment(
        platform=cfg.platform,
        max_capacity=cfg.max_capacity,
        instance_warmup_s=attached_warmup,
        shutdown_after_minutes=cfg.shutdown_after_minutes,
        keep_warm=cfg.keep_warm_minutes is not None,
        keep_warm_minutes=POLICY.keep_warm_minutes
        if cfg.keep_warm_minutes is None
        else cfg.keep_warm_minutes,
        fast_lane=cfg.fast_lane,
        scale_in_lane=cfg.scale_in_lane,
    )


def control_plane_config(cfg: DemoConfig, scaling: ScalingResources) -> ControlPlaneConfig:
    """The shared model's settings, from the policy spec as the simulator derives them; the scaling
    resources the emulator deployed from template.yaml must say the same (:func:`deployed_differences`),
    else the demo would model another policy than the one it shows."""
    config = model_config(POLICY, deployment(cfg), float(initial_target(cfg)))
    differences = deployed_differences(config, scaling)
    if differences:
        raise ValueError(
            "the deployed scaling resources differ from the policy spec (src/queue_autoscaler/scaling/"
            f"policy_spec.py): {'; '.join(differences)}"
        )
    return config


def deployed_differences(config: ControlPlaneConfig, scaling: ScalingResources) -> list[str]:
    """What the deployed resources say differently from ``config``: "field: deployed != config".

    Only what the model uses on this platform: cooldowns on ECS, the instance warm-up on EC2.
    """
    tracking = scaling.tracking_policy
    _, bootstrap = scaling.bootstrap
    shutdown_alarm, _ = scaling.shutdown
    step_period_s = next((q.period for q in shutdown_alarm.metrics if q.period), shutdown_alarm.period) or 60
    lane = alarm_policy(scaling, "ScaleInLaneAlarm")
    fast = alarm_policy(scaling, "FastLaneAlarm")
    deployed: dict[str, object] = {
        "target": tracking.target_value,
        "min_capacity": scaling.min_capacity,
        "max_capacity": scaling.max_capacity,
        "period_s": tracking.period_s,
        "disable_scale_in": tracking.disable_scale_in,
        "bootstrap_capacity": bootstrap.steps[0].scaling_adjustment,
        "bootstrap_steps": bootstrap_steps(bootstrap.steps, tracking.target_value),
        "bootstrap_datapoints": scaling.bootstrap[0].datapoints_to_alarm,
        "step_period_s": step_period_s,
        "shutdown_datapoints": shutdown_alarm.datapoints_to_alarm,
        "fast_lane_steps": fast_lane_steps(scaling),
        "fast_lane_datapoints": config.fast_lane_datapoints if fast is None else fast[0].datapoints_to_alarm,
        "scale_in_lane_steps": scale_in_lane_steps(scaling),
        "scale_in_lane_datapoints": (
            config.scale_in_lane_datapoints if lane is None else lane[0].datapoints_to_alarm
        ),
    }
    if not model_platform(config.platform).instance_warmup:  # cooldowns instead
        deployed |= {
            "scale_out_cooldown_s": float(tracking.scale_out_cooldown_s or 0),
            "scale_in_cooldown_s": float(tracking.scale_in_cooldown_s or 0),
            "step_cooldown_s": step_cooldown_s(scaling),
        }
    elif scaling.instance_warmup_s is not None:  # the stack's own group (attached: the user's)
        deployed["instance_warmup_s"] = float(scaling.instance_warmup_s)
    return [
        f"{name}: deployed {value!r} != spec {getattr(config, name)!r}"
        for name, value in deployed.items()
        if value != getattr(config, name)
    ]


def _not_skipped_resource_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("No Moto CloudFormation support")


@contextlib.contextmanager
def deploy(cfg: DemoConfig) -> Iterator[DeployedStack]:
    """Start the emulator, deploy template.yaml with the demo's parameters, stop it at the end."""
    # moto warns about every resource its CloudFormation skips; the emulator creates those itself.
    logging.getLogger("moto").addFilter(_not_skipped_resource_warning)
    with emulator.running_server() as server:
        # moto's state is per process, shared by every server in it: start from an empty cloud and
        # leave one behind (tests run several demos, and other moto users, in one process).
        server.reset()
        try:
            yield _deploy(cfg, server.endpoint)
        finally:
            server.reset()


def _deploy(cfg: DemoConfig, endpoint: str) -> DeployedStack:
    parameters = stack_parameters(cfg)
    if cfg.attach:  # the user's fleet exists before the stack (qas.demo.attach)
        parameters |= attach.create_fleet(endpoint, cfg.platform, cfg.max_capacity)
    stack = emulator.deploy(endpoint, STACK_NAME, parameters, str(cfg.platform))
    if stack.scaling is None:
        raise RuntimeError("the emulator did not materialize the scaling resources")
    control = control_plane_config(cfg, stack.scaling)
    return DeployedStack(
        endpoint_url=endpoint,
        outputs=stack.outputs,
        namespace=stack.parameters.get("MetricNamespace", "QueueAutoscaler"),
        control=control,
        shutdown_grace_s=float(stack.parameters["WorkerShutdownGraceSeconds"]),
    )
