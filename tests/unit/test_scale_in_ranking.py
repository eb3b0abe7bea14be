"""Scale-in on plain values: which instances go (qas.model.scale_in_victims) and how many the lane
removes at the edges of its steps (scaling.scale_in_lane)."""

from __future__ import annotations

import pytest

from qas.model.scale_in_victims import InstanceView, ScaleInPlan, plan_scale_in
from queue_autoscaler.scaling.scale_in_lane import scale_in_lane_capacity, scale_in_pressure

FLEET = [
    InstanceView("b-old", protected=False, launched_at_s=10.0),
    InstanceView("a-old", protected=False, launched_at_s=10.0),
    InstanceView("new", protected=False, launched_at_s=50.0),
    InstanceView("busy", protected=True, launched_at_s=0.0),
    InstanceView("booting", protected=False, launched_at_s=90.0, running=False),
]


@pytest.mark.parametrize(
    ("new_desired", "plan"),
    [
        (5, ScaleInPlan((), 0)),  # nothing in excess
        (9, ScaleInPlan((), 0)),
        (4, ScaleInPlan(("booting",), 0)),  # one in excess: the one doing no work yet
        (3, ScaleInPlan(("booting", "a-old"), 0)),  # then the oldest; a launch-time tie goes by id
        (2, ScaleInPlan(("booting", "a-old", "b-old"), 0)),
        (0, ScaleInPlan(("booting", "a-old", "b-old", "new"), 1)),  # the protected one stays, counted
    ],
)
def test_pending_first_then_the_oldest_never_a_protected_one(new_desired: int, plan: ScaleInPlan) -> None:
    assert plan_scale_in(FLEET, new_desired) == plan


def test_a_fully_protected_fleet_blocks_every_excess_instance() -> None:
    busy = [InstanceView(f"i-{n}", protected=True, launched_at_s=0.0) for n in range(3)]
    assert plan_scale_in(busy, 1) == ScaleInPlan((), 2)


@pytest.mark.parametrize(
    ("metric", "running", "desired", "pressure"),
    [
        (4.0, 10, 10, 1.0),  # 40 messages > 9 x 4: one instance fewer could not hold them
        (3.6, 10, 10, 1.0),  # 36 = 9 x 4 -> 0.9, the threshold itself selects no step: nothing to report
        (3.4, 10, 10, 0.85),  # 34 <= 9 x 4 -> 0.85: -10% of 10 = 9, below desired
        (3.4, 10, 9, 1.0),  # the same step from 10 running lands on 9 = desired: no action, not reported
        (0.0, 10, 10, 0.1),  # empty: the floor 1 / desired
        (0.0, 1, 1, 1.0),  # the last instance is the shutdown alarm's
        (0.0, 3, 4, 1.0),  # capacity still booting
    ],
)
def test_pressure_edges(metric: float, running: int, desired: int, pressure: float) -> None:
    assert scale_in_pressure(metric, running, desired, 4.0) == pytest.approx(pressure)


@pytest.mark.parametrize(
    ("pressure", "desired", "capacity"),
    [
        (0.9, 10, None),  # the threshold itself: not in alarm
        (0.85, 10, 9),  # -10% of 10 = -1
        (0.85, 15, 14),  # -10% of 15 = -1.5, toward zero: -1
        (0.7, 10, 8),  # -25% of 10 = -2.5 -> -2
        (0.1, 2, 1),  # -75% of 2 = -1.5 -> -1, never below one instance
        (0.1, 1, None),  # one instance: nothing to remove
    ],
)
def test_lane_capacity_edges(pressure: float, desired: int, capacity: int | None) -> None:
    assert scale_in_lane_capacity(pressure, desired) == capacity
