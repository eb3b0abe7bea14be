"""The policy spec and what is derived from it one way: the model's settings (control_plane_config),
InitialTarget (scaling.target.initial_target) and the tuner's policy (scaling.tuning.tuner_policy).
Expected values are literals worked out by hand."""

from __future__ import annotations

import dataclasses

import pytest

from qas.model.control_config import ControlPlaneConfig, Deployment, Platform, control_plane_config
from qas.sim.policies import SimFleet
from queue_autoscaler.scaling.fifo import queue_model
from queue_autoscaler.scaling.policy_spec import POLICY, PolicySpec
from queue_autoscaler.scaling.target import DurationStats, GuardRails, TargetModel, initial_target
from queue_autoscaler.scaling.tuning import TunerPolicy, tuner_policy

# Every value distinct, so a setting taken from the wrong field shows.
SPEC = PolicySpec(
    ecs_scale_out_cooldown_s=11,
    ecs_scale_in_cooldown_s=22,
    ecs_step_cooldown_s=33,
    ec2_instance_warmup_s=44,
    step_alarm_period_s=120,
    bootstrap_datapoints=2,
    bootstrap_steps=((0, 3), (2, 5)),
    fast_lane_datapoints=4,
    fast_lane_steps=((1.5, 0.5),),
    scale_in_lane_datapoints=7,
    scale_in_lane_steps=((0.5, 40),),
)
# What every deployment below shares.
COMMON = {
    "target": 2.5,
    "max_capacity": 9,
    "period_s": 60,
    "scale_out_cooldown_s": 11.0,
    "scale_in_cooldown_s": 22.0,
    "step_cooldown_s": 33.0,
    "bootstrap_capacity": 3,
    "scale_in_lane_datapoints": 7,
    "fast_lane_datapoints": 4,
    "bootstrap_datapoints": 2,
    "step_alarm_period_s": 120,
}


def test_the_spec_states_the_template_thresholds() -> None:
    assert (POLICY.fast_lane_threshold, POLICY.scale_in_lane_threshold) == (1.2, 0.9)
    assert (SPEC.fast_lane_threshold, SPEC.scale_in_lane_threshold) == (1.5, 0.5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bootstrap_steps": ()}, "bootstrap_steps must start at 0 instances' worth of work"),
        ({"bootstrap_steps": ((1, 1),)}, "bootstrap_steps must start at 0 instances' worth of work"),
        (
            {"fast_lane_steps": ((2.0, 1.0), (1.5, 0.5))},
            "fast_lane_steps must be in rising order of pressure",
        ),
        (
            {"scale_in_lane_steps": ((0.9, 10), (0.5, 50))},
            "scale_in_lane_steps must be in rising order of pressure",
        ),
    ],
)
def test_a_spec_out_of_order_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        PolicySpec(**changes)  # type: ignore[arg-type]
    assert str(raised.value) == message


def test_a_standard_queue_gets_every_policy_of_the_spec() -> None:
    deployment = Deployment(
        platform=Platform.ECS, max_capacity=9, shutdown_after_minutes=6, keep_warm_minutes=12
    )
    assert control_plane_config(SPEC, deployment, 2.5) == ControlPlaneConfig(
        **COMMON,  # type: ignore[arg-type]
        platform=Platform.ECS,
        instance_warmup_s=44.0,  # the spec's DefaultInstanceWarmup
        bootstrap_steps=((5, 5),),  # 2 instances' worth at target 2.5: ceil(2 x 2.5) = 5 visible
        shutdown_after_minutes=6,
        fast_lane_steps=((1.5, 0.5),),
        disable_scale_in=False,
        scale_in_lane_steps=((0.5, 40),),
    )


def test_keep_warm_on_a_fifo_queue_keeps_the_scale_in_lane_only() -> None:
    deployment = Deployment(
        max_capacity=9,
        instance_warmup_s=7.5,
        shutdown_after_minutes=6,
        keep_warm=True,
        keep_warm_minutes=12,
        scale_in_lane=False,
        fifo=True,
    )
    assert control_plane_config(SPEC, deployment, 2.5) == ControlPlaneConfig(
        **COMMON,  # type: ignore[arg-type]
        platform=Platform.EC2,
        instance_warmup_s=7.5,
        bootstrap_steps=(),  # FIFO: the bootstrap metric is 1, the first step
        shutdown_after_minutes=12,  # KeepWarmMinutes
        fast_lane_steps=(),
        disable_scale_in=True,
        scale_in_lane_steps=((0.5, 40),),
    )


@pytest.mark.parametrize(
    ("deployment", "fast_lane", "scale_in_lane"),
    [
        # FIFO: no fast lane, the scale-in lane as ScaleInLane says (docs/design.md, "FIFO queues").
        (Deployment(fifo=True), (), ((0.5, 40),)),
        (Deployment(fifo=True, scale_in_lane=False), (), ()),
        (Deployment(fast_lane=False), (), ((0.5, 40),)),
        (Deployment(scale_in_lane=False, period_s=30), ((1.5, 0.5),), ()),
    ],
    ids=["fifo", "fifo-scale-in-lane-off", "fast-lane-off", "scale-in-lane-off"],
)
def test_the_templates_lane_conditions(
    deployment: Deployment,
    fast_lane: tuple[tuple[float, float], ...],
    scale_in_lane: tuple[tuple[float, int], ...],
) -> None:
    config = control_plane_config(SPEC, deployment, 2.5)
    assert (config.fast_lane_steps, config.scale_in_lane_steps) == (fast_lane, scale_in_lane)
    assert config.period_s == deployment.period_s
    assert (config.shutdown_after_minutes, config.disable_scale_in) == (5, False)


def test_the_default_deployment_is_the_templates_defaults() -> None:
    config = control_plane_config(POLICY, Deployment(), 30.0)
    assert config.bootstrap_steps == ((60, 2), (120, 4), (240, 8), (480, 16), (960, 32), (1920, 64))
    assert (config.bootstrap_capacity, config.shutdown_after_minutes, config.instance_warmup_s) == (
        1,
        5,
        60.0,
    )
    assert (config.period_s, config.step_period_s, config.max_capacity) == (60, 60, 10)


# slo 300 s, 2 slots, mean 20 s (tail = mean), no lead time: wait 280, planned min(0.75 x 280, 0.4 x 280)
# = 112, target 2 x (112 + 20) / 20 = 13.2; with slo 301: 2 x (112.4 + 20) / 20 = 13.24 -> 13.2.
MODEL = TargetModel(latency_slo_s=300, concurrency=2)
MEAN_20 = DurationStats(samples=1, mean_s=20.0)


def test_initial_target_is_the_formula_from_one_estimate_without_step_limits() -> None:
    # One sample is enough, and the rails' x2 step limit does not hold it at 2.
    assert initial_target(MEAN_20, MODEL, GuardRails()) == 13.2
    assert initial_target(MEAN_20, TargetModel(latency_slo_s=301, concurrency=2), GuardRails()) == 13.2


def test_initial_target_stays_within_the_rails() -> None:
    assert initial_target(MEAN_20, MODEL, GuardRails(max_target=5.0)) == 5.0
    # slo 10.4 s, 1 slot, mean 10 s: wait 0.4, planned 0.16, target 1.016: within 5% of the lowest, kept.
    assert initial_target(DurationStats(1, 10.0), TargetModel(latency_slo_s=10.4), GuardRails()) == 1.0
    assert (
        initial_target(DurationStats(1, 10.0), TargetModel(latency_slo_s=10.4), GuardRails(min_target=3))
        == 3.0
    )


def test_the_tuner_policy_drops_the_slo_guard_and_plans_the_whole_budget_on_fifo() -> None:
    rails = GuardRails(min_samples=5)
    standard = tuner_policy(
        MODEL, rails, fifo=False, lookback_minutes=15, max_lookback_minutes=60, guard_share=0.5
    )
    assert standard == TunerPolicy(MODEL, rails, 15, 60, 0.5, True, 0.8)  # DRAIN_SHARE
    fifo = tuner_policy(
        MODEL,
        rails,
        fifo=True,
        lookback_minutes=10,
        max_lookback_minutes=60,
        guard_share=0.5,
        drain_guard=False,
        drain_share=0.25,
    )
    whole = TargetModel(latency_slo_s=300, concurrency=2, queue_share=1.0, max_wait_share=1.0)
    assert fifo == TunerPolicy(whole, rails, 10, 60, 0.0, False, 0.25)
    assert queue_model(MODEL, fifo=True) == whole
    assert queue_model(MODEL, fifo=False) is MODEL


def test_the_simulator_runs_the_spec_unless_asked_for_other_bootstrap_steps() -> None:
    fleet = SimFleet(slo_s=300, max_capacity=5, boot_s=60, concurrency=1)
    assert fleet.policy_spec is POLICY
    tried = dataclasses.replace(fleet, bootstrap_capacity=2, bootstrap_steps=(3,))
    assert tried.policy_spec == dataclasses.replace(POLICY, bootstrap_steps=((0, 2), (3, 3)))
    # 3 instances' worth at target 4: 12 visible messages
    assert (tried.control_plane(4.0).bootstrap_capacity, tried.control_plane(4.0).bootstrap_steps) == (
        2,
        ((12, 3),),
    )
