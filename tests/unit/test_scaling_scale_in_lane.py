"""The scale-in lane: its pressure, its steps (never below what target tracking keeps), its alarm."""

from __future__ import annotations

import math

import pytest

from qas.model.control_plane import (
    AlarmName,
    AlarmState,
    ControlPlane,
    ControlPlaneConfig,
    PeriodInput,
    Source,
)
from queue_autoscaler.scaling.backlog import BacklogSample, FleetCapacity, QueueCounts, backlog_per_instance
from queue_autoscaler.scaling.policy_spec import POLICY
from queue_autoscaler.scaling.scale_in_lane import scale_in_lane_capacity, scale_in_pressure


def test_pressure_is_backlog_per_running_instance_over_the_target() -> None:
    # 6 messages, 10 running and desired, target 3: 0.6 per instance / 3 = 0.2
    assert scale_in_pressure(backlog_per_instance(6, 0, 10), 10, 10, 3.0) == pytest.approx(0.2)
    # 4 desired but 10 still running (protected, draining): the step starts from the 10 running, so
    # the pressure is per RUNNING instance: 0.2 -> -75% of 10 = 3 left, below the 4 desired
    assert scale_in_pressure(backlog_per_instance(6, 0, 10), 10, 4, 3.0) == pytest.approx(0.2)
    # 8 desired of those 10: the -75% step would leave 3, fine; but 20 messages (pressure 0.67 -> -25%
    # of 10 = 8 left) would not go below the 8 desired: on ECS it could raise them, so nothing is reported
    assert scale_in_pressure(backlog_per_instance(6, 0, 10), 10, 8, 3.0) == pytest.approx(0.2)
    assert scale_in_pressure(backlog_per_instance(20, 0, 10), 10, 8, 3.0) == 1.0


def test_pressure_never_lets_the_lane_take_the_last_instance_or_booting_capacity() -> None:
    assert scale_in_pressure(0.0, 1, 1, 5.0) == 1.0  # the last instance: the shutdown alarm's job
    assert scale_in_pressure(0.0, 2, 5, 5.0) == 1.0  # capacity still booting: target tracking's warm-up
    assert scale_in_pressure(0.0, 4, 4, 5.0) == pytest.approx(0.25)  # floor 1 / desired
    with pytest.raises(ValueError):
        scale_in_pressure(1.0, 1, 1, 0.0)


def test_pressure_is_judged_against_the_steps_it_is_given() -> None:
    # 4 running and desired, target 10, metric 6: share 6 x 4 = 24 <= (4 - 1) x 10, pressure
    # 24 / 40 = 0.6. The default steps remove 25% of 4 = 1 there (3 < 4 desired): 0.6 is reported.
    assert scale_in_pressure(6.0, 4, 4, 10.0) == pytest.approx(0.6)
    # With a single step below 0.5 no step applies at 0.6, so nothing is reported.
    assert scale_in_pressure(6.0, 4, 4, 10.0, steps=((0.5, 50),)) == 1.0


@pytest.mark.parametrize("desired", range(2, 41))
@pytest.mark.parametrize("backlog", [0, 1, 2, 3, 5, 8, 13, 21, 50, 100])
def test_the_lane_never_removes_what_target_tracking_would_keep(desired: int, backlog: int) -> None:
    target = 4.0
    pressure = scale_in_pressure(backlog_per_instance(backlog, 0, desired), desired, desired, target)
    capacity = scale_in_lane_capacity(pressure, desired)
    if pressure >= POLICY.scale_in_lane_threshold:
        assert capacity is None
        return
    assert capacity is not None
    # Target tracking's scale-in: ceil(backlog / target), never below; and the lane keeps one instance
    assert capacity >= max(1, math.ceil(backlog / target))
    assert capacity < desired


def test_steps_round_a_removal_like_aws() -> None:
    # -75% of 5 = -3.75 -> -3 (toward zero); -10% of 3 = -0.3 -> -1; -50% of 2 = -1
    assert scale_in_lane_capacity(0.1, 5) == 2
    assert scale_in_lane_capacity(0.8, 3) == 2
    assert scale_in_lane_capacity(0.3, 2) == 1
    assert scale_in_lane_capacity(0.1, 1) is None
    assert scale_in_lane_capacity(0.95, 10) is None
    assert max(upper for upper, _ in POLICY.scale_in_lane_steps) == POLICY.scale_in_lane_threshold
    # Below the threshold a step's upper bound is inclusive: exactly 0.5 takes the -50% step
    assert scale_in_lane_capacity(0.5, 8) == 4
    assert scale_in_lane_capacity(0.25, 8) == 2
    assert (
        scale_in_lane_capacity(POLICY.scale_in_lane_threshold, 8) is None
    )  # LessThanThreshold: not in alarm


def test_publisher_publishes_the_pressure_with_the_target() -> None:
    sample = BacklogSample(
        QueueCounts(visible=2, in_flight=4), FleetCapacity(running=6, desired=6), target=4.0
    )
    assert sample.metrics()["ScaleInPressure"] == pytest.approx(6 / (6 * 4.0))
    assert "ScaleInPressure" not in BacklogSample(QueueCounts(2, 4), FleetCapacity(6, 6)).metrics()


def lane_plane(**overrides: object) -> ControlPlane:
    config = ControlPlaneConfig(
        target=4.0,
        max_capacity=20,
        scale_in_lane_steps=POLICY.scale_in_lane_steps,
        **overrides,  # type: ignore[arg-type]
    )
    return ControlPlane(config)


def run(
    cp: ControlPlane, minutes: int, backlog: int, running: int | None, desired: int, *, start: int = 0
) -> list[int]:
    """Feed ``minutes`` periods of ``backlog`` in flight from minute ``start``; running follows
    desired unless given."""
    out = []
    for minute in range(start, start + minutes):
        now_running = desired if running is None else running
        metric = backlog_per_instance(0, backlog, now_running)
        published = scale_in_pressure(metric, now_running, desired, 4.0)
        desired = cp.evaluate(
            PeriodInput(
                60.0 * (minute + 1), metric, 0, backlog, now_running, desired, scale_in_pressure=published
            )
        ).desired
        out.append(desired)
    return out


def test_the_lane_scales_in_after_five_datapoints_not_fifteen() -> None:
    # 10 instances left by a burst, 4 messages in flight, target 4: target tracking wants 1 after 15 minutes
    cp = lane_plane()
    desired = run(cp, POLICY.scale_in_lane_datapoints, backlog=4, running=None, desired=10)
    assert desired[: POLICY.scale_in_lane_datapoints - 1] == [10] * (POLICY.scale_in_lane_datapoints - 1)
    assert desired[-1] == 3  # pressure 0.1: -75% of 10 = -7.5 -> -7
    later = run(cp, 3, backlog=4, running=None, desired=desired[-1], start=POLICY.scale_in_lane_datapoints)
    assert later[-1] == 1  # the alarm re-fires each period while in ALARM, down to one instance
    assert cp.alarm_states()[AlarmName.SCALE_IN_LANE] is AlarmState.OK  # at one instance it stops


def test_without_steps_only_target_tracking_scales_in() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    assert run(cp, 10, backlog=4, running=None, desired=10) == [10] * 10
    assert cp.alarm_states()[AlarmName.SCALE_IN_LANE] is AlarmState.OK


def test_a_missing_datapoint_never_scales_in() -> None:
    cp = lane_plane()
    run(cp, POLICY.scale_in_lane_datapoints - 1, backlog=4, running=None, desired=10)
    result = cp.evaluate(PeriodInput.missing(60.0 * POLICY.scale_in_lane_datapoints, running=10, desired=10))
    # Four datapoints in the range and a fill-in that counts as not breaching (notBreaching): no action
    assert result.desired == 10
    assert result.alarms[AlarmName.SCALE_IN_LANE] is AlarmState.OK
    # The next datapoint makes five in the range: CloudWatch evaluates those, skipping the missing one
    after = run(cp, 1, 4, None, 10, start=POLICY.scale_in_lane_datapoints)
    assert after == [3]  # pressure 0.1: -75% of 10


def test_booting_capacity_is_not_scaled_in() -> None:
    cp = lane_plane()
    assert run(cp, 10, backlog=4, running=3, desired=10) == [10] * 10  # 7 instances still booting


def test_lane_action_is_named_and_high_resolution_uses_minute_periods() -> None:
    # (Target tracking's own scale-in is off here: on 10 s periods its 15 datapoints take 150 s.)
    cp = lane_plane(period_s=10, step_alarm_period_s=60, disable_scale_in=True)
    desired, actions = 10, []
    for tick in range(6 * POLICY.scale_in_lane_datapoints):  # 10 s periods: five minutes
        metric = backlog_per_instance(0, 4, 10)
        published = scale_in_pressure(metric, 10, desired, 4.0)
        result = cp.evaluate(
            PeriodInput(10.0 * (tick + 1), metric, 0, 4, 10, desired, scale_in_pressure=published)
        )
        actions += [a for a in result.actions if a.applied]
        desired = result.desired
    assert desired == 3
    assert [a.source for a in actions] == [Source.SCALE_IN_LANE]
    assert actions[0].time_s == 60.0 * POLICY.scale_in_lane_datapoints


def test_config_rejects_bad_lane_steps() -> None:
    with pytest.raises(ValueError):
        ControlPlaneConfig(target=1.0, scale_in_lane_steps=((1.5, 10),))
    with pytest.raises(ValueError):
        ControlPlaneConfig(target=1.0, scale_in_lane_steps=((0.5, 100),))
    with pytest.raises(ValueError):
        ControlPlaneConfig(target=1.0, scale_in_lane_datapoints=0)
