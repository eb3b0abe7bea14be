"""The control-plane model: which proposal wins a period, where each alarm's threshold lies, and when
the step alarms (bootstrap, shutdown, scale-in lane) evaluate in high-resolution mode.

Periods are fed with fixed inputs (the desired capacity a test gives is not the one the model
returned) so that several policies can propose in the same period.
"""

from __future__ import annotations

import pytest

from qas.model.control_plane import (
    AlarmName,
    AlarmState,
    ControlPlane,
    ControlPlaneConfig,
    PeriodInput,
    PeriodResult,
    Platform,
    ScalingAction,
    Source,
)
from queue_autoscaler.scaling.policy_spec import POLICY
from queue_autoscaler.scaling.scale_in_lane import scale_in_pressure


def same(cp: ControlPlane, minutes: int, **inputs: object) -> list[PeriodResult]:
    """``minutes`` one-minute periods of the same inputs, from minute 1."""
    return [cp.evaluate(PeriodInput(now_s=60.0 * m, **inputs)) for m in range(1, minutes + 1)]  # type: ignore[arg-type]


def summary(result: PeriodResult) -> list[tuple[Source, int, bool]]:
    return [(a.source, a.capacity, a.applied) for a in result.actions]


# ------------------------------------------------------------------ who wins


def test_the_largest_scale_out_wins_over_the_source_that_proposed_first() -> None:
    # Given 20 visible into an empty fleet, a bootstrap step of 4 for 20 and target 10
    cp = ControlPlane(ControlPlaneConfig(target=10.0, max_capacity=20, bootstrap_steps=((20, 4),)))
    third = same(cp, 3, metric=20.0, visible=20, in_flight=0, running=0, desired=0)[-1]
    # Then on the third datapoint target tracking asks ceil(1 x 20 / 10) = 2, the bootstrap 4: 4
    assert third.desired == 4
    assert summary(third) == [(Source.TARGET_TRACKING, 2, False), (Source.BOOTSTRAP, 4, True)]


def test_target_tracking_wins_when_its_scale_out_is_the_larger() -> None:
    # Without the step the bootstrap asks for 1, target tracking for 2
    cp = ControlPlane(ControlPlaneConfig(target=10.0, max_capacity=20))
    third = same(cp, 3, metric=20.0, visible=20, in_flight=0, running=0, desired=0)[-1]
    assert third.desired == 2
    assert summary(third) == [(Source.TARGET_TRACKING, 2, True), (Source.BOOTSTRAP, 1, False)]


def test_the_largest_scale_in_wins_the_lane_over_target_tracking() -> None:
    # 10 instances, 4 messages, target 4; target tracking's low alarm set to 5 datapoints like the lane.
    # Target tracking: ceil(10 x 0.4 / 4) = 1. Lane: pressure 4 / (10 x 4) = 0.1, -75% of 10 -> 3.
    # AWS applies the policy that leaves the largest capacity: 3 (target tracking asks again next minute)
    config = ControlPlaneConfig(
        target=4.0, max_capacity=20, low_datapoints=5, scale_in_lane_steps=POLICY.scale_in_lane_steps
    )
    fifth = same(
        ControlPlane(config),
        5,
        metric=0.4,
        visible=0,
        in_flight=4,
        running=10,
        desired=10,
        scale_in_pressure=0.1,
    )[-1]
    assert fifth.desired == 3
    assert summary(fifth) == [(Source.TARGET_TRACKING, 1, False), (Source.SCALE_IN_LANE, 3, True)]


def test_the_shutdown_alarm_wins_over_keep_warms_last_instance() -> None:
    # KeepWarm turns target tracking's scale-in off (DisableScaleIn), so an empty queue (metric 0)
    # never makes it remove the warm instances; after 15 empty minutes the shutdown alarm asks for 0.
    results = same(
        ControlPlane(ControlPlaneConfig(target=4.0, disable_scale_in=True)),
        15,
        metric=0.0,
        visible=0,
        in_flight=0,
        running=3,
        desired=3,
    )
    assert all(r.actions == () for r in results[:14])
    assert results[14].desired == 0
    assert summary(results[14]) == [(Source.SHUTDOWN, 0, True)]


def test_a_policy_asking_for_the_current_capacity_does_not_block_a_scale_in() -> None:
    # High resolution: work was visible at the first 10 s sample of the minute while nothing was
    # desired, so at the minute's end the bootstrap alarm asks for 1 - what is desired by then.
    # Target tracking's low alarm (1 datapoint here) asks for 0 in the same period: 0 applies.
    cp = ControlPlane(ControlPlaneConfig(target=10.0, period_s=10, step_alarm_period_s=60, low_datapoints=1))
    cp.evaluate(PeriodInput(10.0, 1.0, visible=1, in_flight=0, running=0, desired=0))
    for now in (20.0, 30.0, 40.0, 50.0):  # 9.5: below the target, above its 90%: no alarm
        assert cp.evaluate(PeriodInput(now, 9.5, visible=9, in_flight=1, running=1, desired=1)).actions == ()
    last = cp.evaluate(PeriodInput(60.0, 0.0, visible=0, in_flight=0, running=1, desired=1))
    assert last.desired == 0
    assert summary(last) == [(Source.TARGET_TRACKING, 0, True), (Source.BOOTSTRAP, 1, False)]


# ------------------------------------------------------------------ thresholds


def test_the_high_alarm_needs_the_metric_above_the_target_not_on_it() -> None:
    results = same(
        ControlPlane(ControlPlaneConfig(target=4.0)),
        3,
        metric=4.0,
        visible=8,
        in_flight=0,
        running=2,
        desired=2,
    )
    assert results[-1].alarms[AlarmName.HIGH] is AlarmState.OK
    assert results[-1].actions == ()


def test_a_high_alarm_that_asks_for_what_is_desired_does_nothing() -> None:
    # ceil(4 x 5 / 4) = 5 = desired: the alarm is in ALARM, nothing is proposed
    results = same(
        ControlPlane(ControlPlaneConfig(target=4.0)),
        3,
        metric=5.0,
        visible=20,
        in_flight=0,
        running=4,
        desired=5,
    )
    assert results[-1].alarms[AlarmName.HIGH] is AlarmState.ALARM
    assert results[-1].actions == ()


def test_the_low_alarm_needs_the_metric_below_ninety_percent_not_on_it() -> None:
    results = same(
        ControlPlane(ControlPlaneConfig(target=10.0)),
        15,
        metric=9.0,
        visible=36,
        in_flight=0,
        running=4,
        desired=4,
    )
    assert results[-1].alarms[AlarmName.LOW] is AlarmState.OK
    assert results[-1].desired == 4


def test_a_low_alarm_that_asks_for_what_is_desired_does_nothing() -> None:
    # ceil(2 x 3 / 4) = ceil(1.5) = 2 = desired
    results = same(
        ControlPlane(ControlPlaneConfig(target=4.0)),
        15,
        metric=3.0,
        visible=6,
        in_flight=0,
        running=2,
        desired=2,
    )
    assert results[-1].alarms[AlarmName.LOW] is AlarmState.ALARM
    assert results[-1].actions == ()


def test_a_scale_in_names_the_metric_and_the_low_threshold() -> None:
    # ceil(4 x 1 / 4) = 1; the threshold 0.9 x 4 = 3.6
    last = same(
        ControlPlane(ControlPlaneConfig(target=4.0)),
        15,
        metric=1.0,
        visible=4,
        in_flight=0,
        running=4,
        desired=4,
    )[-1]
    assert last.actions == (
        ScalingAction(
            900.0,
            Source.TARGET_TRACKING,
            previous=4,
            capacity=1,
            applied=True,
            reason="low alarm: metric 1 < 3.6",
        ),
    )


def test_ecs_leaves_zero_only_for_a_metric_above_the_target() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=5.0, platform=Platform.ECS))
    assert cp.evaluate(PeriodInput(60.0, 5.0, visible=0, in_flight=5, running=0, desired=0)).actions == ()


def test_ecs_scales_in_again_exactly_one_cooldown_after_a_scale_in() -> None:
    cp = ControlPlane(
        ControlPlaneConfig(target=10.0, platform=Platform.ECS, max_capacity=20, low_datapoints=1)
    )
    # ceil(10 x 1 / 10) = 1 at t=60; at t=300 the 300 s cooldown still runs; at t=360 it is over
    assert cp.evaluate(PeriodInput(60.0, 1.0, visible=10, in_flight=0, running=10, desired=10)).desired == 1
    assert cp.evaluate(PeriodInput(300.0, 1.0, visible=4, in_flight=0, running=4, desired=4)).desired == 4
    assert cp.evaluate(PeriodInput(360.0, 1.0, visible=4, in_flight=0, running=4, desired=4)).desired == 1


def test_two_datapoints_for_the_same_time_are_accepted() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=1.0))
    cp.evaluate(PeriodInput(60.0, 0.0, visible=0, in_flight=0, running=0, desired=0))
    assert cp.evaluate(PeriodInput(60.0, 0.0, visible=0, in_flight=0, running=0, desired=0)).desired == 0


def test_a_missing_period_has_no_datapoint_but_the_capacity_aws_knows() -> None:
    assert PeriodInput.missing(60.0, running=2, desired=3) == PeriodInput(60.0, None, 0, 0, 2, 3, missed=True)
    with pytest.raises(ValueError, match=r"^a missed period has no datapoints$"):
        PeriodInput(60.0, 1.0, 0, 0, 2, 3, missed=True)
    with pytest.raises(ValueError, match="scale_out_pressure must be a non-negative number"):
        PeriodInput(60.0, 1.0, 0, 0, 2, 3, scale_out_pressure=-1.0)


# ------------------------------------------------------------------ bootstrap and shutdown


def test_shutdown_needs_an_empty_queue_not_equal_visible_and_in_flight() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=4.0, shutdown_after_minutes=2, disable_scale_in=True))
    results = same(cp, 3, metric=2.0, visible=2, in_flight=2, running=2, desired=2)
    assert [r.desired for r in results] == [2, 2, 2]
    assert results[-1].alarms[AlarmName.SHUTDOWN] is AlarmState.OK


def test_shutdown_does_not_fire_for_a_fleet_already_at_zero() -> None:
    results = same(
        ControlPlane(ControlPlaneConfig(target=4.0, shutdown_after_minutes=2)),
        3,
        metric=0.0,
        visible=0,
        in_flight=0,
        running=0,
        desired=0,
    )
    assert all(r.actions == () for r in results)
    assert results[-1].alarms[AlarmName.SHUTDOWN] is AlarmState.OK


def test_thirty_second_periods_evaluate_the_step_alarms_every_other_period() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10.0, period_s=30, step_alarm_period_s=60))
    # Work visible in the first half-minute only: the bootstrap alarm acts at the minute, on the Maximum
    assert cp.evaluate(PeriodInput(30.0, 0.0, visible=3, in_flight=0, running=0, desired=0)).actions == ()
    assert cp.evaluate(PeriodInput(60.0, 0.0, visible=0, in_flight=0, running=0, desired=0)).desired == 1


def test_a_step_alarm_in_alarm_acts_once_per_its_period_not_every_sub_period() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10.0, period_s=10, step_alarm_period_s=60))
    for now in (10.0, 20.0, 30.0, 40.0, 50.0):
        cp.evaluate(PeriodInput(now, 0.3, visible=3, in_flight=0, running=0, desired=0))
    assert cp.evaluate(PeriodInput(60.0, 0.3, visible=3, in_flight=0, running=0, desired=0)).desired == 1
    # The bootstrap alarm stays in ALARM until its next minute, but acts only at its evaluations
    for now in (70.0, 80.0, 90.0, 100.0, 110.0):
        result = cp.evaluate(PeriodInput(now, 0.3, visible=3, in_flight=0, running=0, desired=1))
        assert result.alarms[AlarmName.BOOTSTRAP] is AlarmState.ALARM
        assert result.actions == ()
    assert (
        cp.evaluate(PeriodInput(120.0, 3.0, visible=3, in_flight=0, running=1, desired=1)).alarms[
            AlarmName.BOOTSTRAP
        ]
        is AlarmState.OK
    )


# ------------------------------------------------------------------ the scale-in lane in the model


def lane_plane(**kw: object) -> ControlPlane:
    return ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20, disable_scale_in=True, **kw))  # type: ignore[arg-type]


def test_the_lane_removes_by_its_latest_datapoint() -> None:
    # 10 instances; 24 in flight for four minutes (pressure 24 / 40 = 0.6), then 4 (0.1):
    # the latest picks the -75% step: 10 - 7 = 3
    cp = lane_plane(scale_in_lane_steps=POLICY.scale_in_lane_steps)
    for minute, backlog in enumerate([24, 24, 24, 24, 4], start=1):
        published = scale_in_pressure(backlog / 10, 10, 10, 4.0)
        result = cp.evaluate(
            PeriodInput(60.0 * minute, backlog / 10, 0, backlog, 10, 10, scale_in_pressure=published)
        )
    assert result.desired == 3
    assert result.actions[0].reason == "scale-in pressure 0.10 for 5 periods"


def test_the_lane_uses_the_configured_steps() -> None:
    # One step: below 0.5 remove 50%. Pressure 0.1: 10 - 5 = 5
    cp = lane_plane(scale_in_lane_steps=((0.5, 50),))
    results = same(cp, 5, metric=0.4, visible=0, in_flight=4, running=10, desired=10, scale_in_pressure=0.1)
    assert results[-1].desired == 5


def test_the_lane_at_exactly_its_threshold_does_not_breach() -> None:
    # 36 in flight on 10: pressure 36 / 40 = 0.9, the threshold
    results = same(
        lane_plane(scale_in_lane_steps=POLICY.scale_in_lane_steps),
        5,
        metric=3.6,
        visible=0,
        in_flight=36,
        running=10,
        desired=10,
        scale_in_pressure=0.9,
    )
    assert results[-1].alarms[AlarmName.SCALE_IN_LANE] is AlarmState.OK
    assert results[-1].actions == ()


def test_the_lane_never_goes_below_min_capacity() -> None:
    # Pressure 0.25 on 4 would remove 75%, but min_capacity is 4: nothing to do
    cp = lane_plane(scale_in_lane_steps=POLICY.scale_in_lane_steps, min_capacity=4)
    results = same(cp, 5, metric=0.0, visible=0, in_flight=0, running=4, desired=4, scale_in_pressure=0.25)
    assert results[-1].alarms[AlarmName.SCALE_IN_LANE] is AlarmState.ALARM
    assert results[-1].actions == ()
