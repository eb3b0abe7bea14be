"""The fast lane of the control-plane model, configured with the template's steps.

The fast lane is a step policy on the published ScaleOutPressure = metric / the target the publisher
read, whose alarm needs one datapoint above the lowest step (1.2); it adds the share of running
capacity of the highest step the pressure reaches (a lower bound is inclusive above the threshold):
from 1.2 +20%, from 1.5 +50%, from 2 +100%, from 3 +200%, from 5 +400% (at least one instance). The
model has no fast lane unless it is configured, as here.
"""

from __future__ import annotations

import pytest

from qas.model.control_plane import (
    AlarmName,
    AlarmState,
    ControlPlane,
    ControlPlaneConfig,
    PeriodInput,
    ScalingAction,
    Source,
)
from queue_autoscaler.scaling.policy_spec import POLICY

TEMPLATE_STEPS = ControlPlaneConfig(target=4.0, fast_lane_steps=POLICY.fast_lane_steps)


def fast_plane(max_capacity: int = 50) -> ControlPlane:
    return ControlPlane(
        ControlPlaneConfig(target=4.0, max_capacity=max_capacity, fast_lane_steps=POLICY.fast_lane_steps)
    )


def period(
    metric: float, running: int, desired: int, *, now_s: float = 60.0, visible: int = 0, target: float = 4.0
) -> PeriodInput:
    """A period as the publisher publishes it: the pressure is the metric over the target it read."""
    return PeriodInput(
        now_s=now_s,
        metric=metric,
        visible=visible,
        in_flight=0,
        running=running,
        desired=desired,
        scale_out_pressure=metric / target,
    )


@pytest.mark.parametrize(
    ("pressure", "running", "capacity"),
    [
        (1.1, 10, None),  # below the lowest step
        (1.2, 10, 12),  # on the lowest bound: the first step (whether the alarm fires is its own test)
        (1.21, 10, 12),  # +20% of 10
        (1.21, 4, 5),  # 20% of 4 = 0.8 rounds down to 0: at least one instance
        (1.49, 10, 12),  # still the +20% step
        (1.5, 10, 15),  # on a bound: that step, +50%
        (1.6, 10, 15),  # +50%
        (2.5, 3, 6),  # +100%
        (3.5, 3, 9),  # +200%
        (6.0, 3, 15),  # +400%
        (2.5, 0, 1),  # nothing running yet: one instance
    ],
)
def test_the_template_steps_add_the_highest_passed_steps_share(
    pressure: float, running: int, capacity: int | None
) -> None:
    assert TEMPLATE_STEPS.fast_lane_for(pressure, running) == capacity


def test_steps_apply_in_pressure_order_whatever_order_they_are_given_in() -> None:
    config = ControlPlaneConfig(target=1.0, fast_lane_steps=((2.0, 1.0), (1.2, 0.2)))
    assert config.fast_lane_for(2.5, 10) == 20
    assert config.fast_lane_for(1.3, 10) == 12


def test_no_steps_no_fast_lane() -> None:
    assert ControlPlaneConfig(target=1.0).fast_lane_for(10.0, 5) is None
    cp = ControlPlane(ControlPlaneConfig(target=4.0))
    result = cp.evaluate(period(10.0, running=2, desired=2))
    assert result.actions == ()
    assert result.alarms[AlarmName.FAST_LANE] is AlarmState.OK


def test_one_datapoint_above_the_lowest_step_adds_capacity_at_once() -> None:
    # Given 2 running and desired, a backlog of 10 per instance against the target 4: pressure 2.5
    result = fast_plane().evaluate(period(10.0, running=2, desired=2))
    # Then the +100% step adds 2 in the first period; target tracking has one datapoint of three
    assert result.desired == 4
    assert result.actions == (
        ScalingAction(
            60.0,
            Source.FAST_LANE,
            previous=2,
            capacity=4,
            applied=True,
            reason="pressure 2.50 with 2 running",
        ),
    )
    assert result.alarms[AlarmName.FAST_LANE] is AlarmState.ALARM
    assert result.alarms[AlarmName.HIGH] is AlarmState.INSUFFICIENT_DATA


def test_one_instance_is_doubled_too() -> None:
    assert fast_plane().evaluate(period(10.0, running=1, desired=1)).desired == 2


def test_exactly_the_lowest_step_does_not_breach() -> None:
    # 4.8 / 4 = 1.2
    result = fast_plane().evaluate(period(4.8, running=10, desired=10))
    assert result.actions == ()
    assert result.alarms[AlarmName.FAST_LANE] is AlarmState.OK


def test_an_empty_fleet_is_the_bootstrap_alarms_not_the_fast_lanes() -> None:
    result = fast_plane().evaluate(period(20.0, running=0, desired=0, visible=20))
    assert [a.source for a in result.actions] == [Source.BOOTSTRAP]
    assert result.desired == 1


def test_capacity_still_booting_counts_so_a_lasting_breach_adds_nothing_twice() -> None:
    # 2 running, 4 desired (2 booting): +100% of running is 4, already desired
    assert fast_plane().evaluate(period(10.0, running=2, desired=4)).actions == ()


def test_max_capacity_caps_the_fast_lane() -> None:
    # 3 running and desired at max 3: +100% would be 6
    assert fast_plane(max_capacity=3).evaluate(period(10.0, running=3, desired=3)).actions == ()
    # max 5: 6 is clamped to 5
    result = fast_plane(max_capacity=5).evaluate(period(10.0, running=3, desired=3))
    assert (result.desired, result.actions[0].capacity) == (5, 5)


def test_it_refires_every_period_while_the_pressure_lasts() -> None:
    cp = fast_plane()
    assert cp.evaluate(period(10.0, running=2, desired=2, now_s=60.0)).desired == 4
    assert cp.evaluate(period(10.0, running=4, desired=4, now_s=120.0)).desired == 8


def test_the_pressure_follows_the_target_in_force() -> None:
    cp = fast_plane()
    cp.set_target(8.0)
    # The publisher reads 8: 10 / 8 = 1.25: +20% of 10 = 12
    result = cp.evaluate(period(10.0, running=10, desired=10, target=8.0))
    assert (result.desired, result.actions[0].reason) == (12, "pressure 1.25 with 10 running")


def test_a_missing_datapoint_is_no_breach() -> None:
    result = fast_plane().evaluate(PeriodInput.missing(60.0, running=2, desired=2))
    assert result.actions == ()
    assert result.alarms[AlarmName.FAST_LANE] is AlarmState.INSUFFICIENT_DATA


def test_target_tracking_wins_when_it_asks_for_more() -> None:
    # Pressure 2.5 for three periods with nothing applied: the fast lane asks for 4 each time; on
    # the third, target tracking asks for ceil(2 x 10 / 4) = 5 and wins
    cp = fast_plane()
    results = [cp.evaluate(period(10.0, running=2, desired=2, now_s=60.0 * m)) for m in (1, 2, 3)]
    assert [r.desired for r in results] == [4, 4, 5]
    assert [(a.source, a.capacity, a.applied) for a in results[2].actions] == [
        (Source.TARGET_TRACKING, 5, True),
        (Source.FAST_LANE, 4, False),
    ]
