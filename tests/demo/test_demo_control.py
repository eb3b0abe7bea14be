"""The demo's control plane hands the model what the real publisher Lambda published."""

from __future__ import annotations

import dataclasses

import pytest

from qas import emulator
from qas.demo.config import DemoConfig
from qas.demo.control import Datapoints, evaluate
from qas.demo.stack import (
    control_plane_config,
    deploy,
    deployed_differences,
    stack_parameters,
    step_cooldown_s,
)
from qas.emulator import ScalingResources, StepPolicyDefinition
from qas.model.control_plane import ControlPlane, ControlPlaneConfig, Platform
from queue_autoscaler.scaling.policy_spec import POLICY


def test_the_model_gets_the_pressures_the_publisher_published() -> None:
    model = ControlPlane(
        ControlPlaneConfig(target=4.0, max_capacity=10, fast_lane_steps=POLICY.fast_lane_steps)
    )
    # The tuner ran after this minute's publisher, and the demo follows it before evaluating
    model.set_target(8.0)
    points = Datapoints(
        backlog_per_instance=10.0,
        visible=20,
        in_flight=0,
        running=2,
        desired=2,
        scale_out_pressure=2.5,  # 10 / the target 4 the publisher read
        scale_in_pressure=1.0,
    )
    # +100% of 2 from 2.5; recomputed with 8 (1.25) the fast lane would add 20%: 3
    assert evaluate(model, 0, points, desired_now=2, running_now=2).desired == 4


def test_a_minute_whose_pressures_were_not_published_gives_the_lanes_no_datapoint() -> None:
    model = ControlPlane(
        ControlPlaneConfig(target=4.0, max_capacity=10, fast_lane_steps=POLICY.fast_lane_steps)
    )
    # The publisher could not read the target: no ScaleOutPressure, no ScaleInPressure
    points = Datapoints(backlog_per_instance=10.0, visible=20, in_flight=0, running=2, desired=2)
    assert evaluate(model, 0, points, desired_now=2, running_now=2).actions == ()


def _step_policy(logical_id: str, cooldown_s: int | None) -> StepPolicyDefinition:
    return StepPolicyDefinition(
        logical_id, logical_id, f"arn:{logical_id}", "ExactCapacity", (), "Maximum", cooldown_s
    )


def test_the_ecs_demo_takes_the_step_policies_cooldown_from_the_template() -> None:
    with deploy(DemoConfig(platform=Platform.ECS)) as stack:
        assert stack.control.step_cooldown_s == 60.0  # template.yaml's Cooldown of the ECS step policies


def test_the_demo_refuses_a_deployed_policy_other_than_the_spec_naming_each_value() -> None:
    cfg = DemoConfig(platform=Platform.ECS, shutdown_after_minutes=4)
    with emulator.running_server() as server:
        server.reset()
        try:
            # Deployed with another ShutdownAfterMinutes than the demo models.
            parameters = stack_parameters(cfg) | {"ShutdownAfterMinutes": "6"}
            deployed = emulator.deploy(server.endpoint, "qas-demo-check", parameters, "ECS").scaling
            assert deployed is not None
            with pytest.raises(ValueError) as raised:
                control_plane_config(cfg, deployed)
            assert str(raised.value).endswith("shutdown_datapoints: deployed 6 != spec 4")
            config = control_plane_config(dataclasses.replace(cfg, shutdown_after_minutes=6), deployed)
            moved = dataclasses.replace(config, step_cooldown_s=90.0, scale_in_lane_steps=((0.5, 50),))
            assert deployed_differences(moved, deployed) == [
                "scale_in_lane_steps: deployed ((0.25, 75), (0.5, 50), (0.75, 25), (0.9, 10))"
                " != spec ((0.5, 50),)",
                "step_cooldown_s: deployed 60.0 != spec 90.0",
            ]
        finally:
            server.reset()


def test_step_policies_with_different_cooldowns_are_refused_by_name() -> None:
    deployed = ScalingResources(
        platform="ECS",
        fleet_name="fleet",
        min_capacity=0,
        max_capacity=1,
        instance_warmup_s=None,
        tracking_policy=None,  # type: ignore[arg-type]  # not read
        step_policies={"A": _step_policy("A", 60), "B": _step_policy("B", 120), "C": _step_policy("C", None)},
        alarms={},
        scalable_target=None,
        queue_policies={},
    )
    with pytest.raises(ValueError, match=r"Cooldown differ, the model takes one: \{'A': 60, 'B': 120\}"):
        step_cooldown_s(deployed)
    one = dataclasses.replace(
        deployed, step_policies={"A": _step_policy("A", 60), "C": _step_policy("C", None)}
    )
    assert step_cooldown_s(one) == 60.0
    assert (
        step_cooldown_s(dataclasses.replace(deployed, step_policies={"C": _step_policy("C", None)})) is None
    )
