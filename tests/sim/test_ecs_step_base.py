"""On ECS a step adjustment starts from the running task count: the scale-in lane must never raise
the desired count while protected tasks drain (scaling.scale_in_lane; the model's rule is held by
tests/unit/test_control_plane_running_base.py).
"""

from __future__ import annotations

import pytest

from qas.model.control_plane import Platform, Source
from qas.sim import bench
from qas.sim.engine import EngineSettings, Simulation
from qas.sim.policies import TargetTracking, make_controller
from qas.sim.runner import expected_mean
from queue_autoscaler.scaling import backlog


def per_desired_pressure(
    backlog_per_instance: float, running: int, desired: int, target: float, *_steps: object
) -> float:
    """The pressure as it was published before: this fleet's backlog per DESIRED instance."""
    if desired <= 1 or running < desired:
        return 1.0
    share = backlog_per_instance * running
    if share > (desired - 1) * target:
        return 1.0
    return max(share / (desired * target), 1.0 / desired)


def lane_raises() -> int:
    """How many times the scale-in lane raised the desired count on `steady-ecs` (ideal AWS)."""
    scenario = bench.SCENARIOS["steady-ecs"]
    assert scenario.fleet.platform is Platform.ECS
    trace = scenario.trace(1.0)
    controller = make_controller("tuned", scenario.fleet, expected_mean(trace))
    assert isinstance(controller, TargetTracking)
    engine = EngineSettings(concurrency=scenario.fleet.concurrency, boot_s=scenario.fleet.boot_s)
    Simulation(trace, controller, engine, scenario.fleet.slo_s).run()
    assert controller.activity[Source.SCALE_IN_LANE, False] > 0  # the lane did scale in
    return controller.activity[Source.SCALE_IN_LANE, True]


def test_the_published_pressure_never_makes_the_lane_raise_ecs_capacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert lane_raises() == 0
    # The scenario does drain protected tasks under the lane: with the publisher's pressure per
    # desired task, ECS's step from the running count raises the desired count.
    monkeypatch.setattr(backlog, "scale_in_pressure", per_desired_pressure)
    assert lane_raises() > 0
