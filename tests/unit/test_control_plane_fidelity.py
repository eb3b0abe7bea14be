"""The control-plane model where it used to differ from the AWS documentation.

* Step bounds above an alarm's threshold: the lower bound is inclusive
  (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StepAdjustment.html).
* Simultaneous scale-ins: the policy that leaves the largest capacity applies
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scale-based-on-demand.html, "Multiple
  dynamic scaling policies"; Application Auto Scaling: API_PutScalingPolicy).
* Missing datapoints: CloudWatch evaluates the newest existing datapoints of a wider evaluation range
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html).
* The pressures the publisher published, with the target it read, not recomputed with a later one.
* Application Auto Scaling step policies' Cooldown
  (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_StepScalingPolicyConfiguration.html).
"""

from __future__ import annotations

import pytest

from qas.model.control_plane import (
    AlarmName,
    AlarmState,
    ControlPlane,
    ControlPlaneConfig,
    PeriodInput,
    Platform,
    Source,
)
from queue_autoscaler.scaling.backlog import backlog_per_instance
from queue_autoscaler.scaling.policy_spec import POLICY
from queue_autoscaler.scaling.scale_in_lane import scale_in_pressure

# ------------------------------------------------------------------ step bounds


@pytest.mark.parametrize(("pressure", "capacity"), [(1.5, 15), (2.0, 20), (3.0, 30), (5.0, 50)])
def test_a_pressure_exactly_on_a_step_bound_takes_that_step(pressure: float, capacity: int) -> None:
    # Above the threshold a lower bound is inclusive: 1.5 is +50% of 10 = 15 (not +20% = 12),
    # 2 is +100% = 20, 3 is +200% = 30, 5 is +400% = 50
    config = ControlPlaneConfig(target=10, fast_lane_steps=POLICY.fast_lane_steps)
    assert config.fast_lane_for(pressure, 10) == capacity


def test_on_the_lowest_bound_the_policy_has_a_step_but_its_alarm_does_not_fire() -> None:
    config = ControlPlaneConfig(target=10, max_capacity=60, fast_lane_steps=POLICY.fast_lane_steps)
    # The policy's first step is [1.2, 1.5): +20% of 10 = 12
    assert config.fast_lane_for(1.2, 10) == 12
    # The alarm stays GreaterThanThreshold 1.2: a datapoint of exactly 1.2 does not invoke it
    result = ControlPlane(config).evaluate(
        PeriodInput(60.0, 12.0, 120, 0, 10, 10, scale_out_pressure=1.2, scale_in_pressure=1.0)
    )
    assert result.actions == ()
    assert result.alarms[AlarmName.FAST_LANE] is AlarmState.OK


def test_the_model_scales_out_by_the_step_of_a_bound_the_pressure_sits_on() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10, max_capacity=60, fast_lane_steps=POLICY.fast_lane_steps))
    result = cp.evaluate(
        PeriodInput(60.0, 15.0, 150, 0, 10, 10, scale_out_pressure=1.5, scale_in_pressure=1.0)
    )
    assert result.desired == 15


# ------------------------------------------------------------------ simultaneous scale-ins


def empty_queue_run(platform: Platform, minutes: int, **config: object) -> list[int]:
    """An empty queue on 10 instances: the scale-in lane and the shutdown alarm (5 minutes) both act;
    running follows desired, and each period carries the pressure the publisher publishes."""
    cp = ControlPlane(
        ControlPlaneConfig(
            target=4.0,
            platform=platform,
            max_capacity=20,
            disable_scale_in=True,
            shutdown_after_minutes=5,
            scale_in_lane_steps=POLICY.scale_in_lane_steps,
            **config,  # type: ignore[arg-type]
        )
    )
    desired, out = 10, []
    for minute in range(1, minutes + 1):
        pressure = scale_in_pressure(0.0, desired, desired, 4.0)
        desired = cp.evaluate(
            PeriodInput(60.0 * minute, 0.0, 0, 0, desired, desired, scale_in_pressure=pressure)
        ).desired
        out.append(desired)
    return out


def test_the_lane_wins_over_the_shutdown_alarm_which_acts_once_the_lane_stops() -> None:
    # Minute 5: the lane asks 3 (pressure 1/10: -75%), the shutdown 0: 3 applies. Then the lane
    # steps on: 3 -> 2 (pressure 1/3: -50% of 3 = -1.5 -> -1), 2 -> 1 (1/2: -50%); at one instance it
    # reports no pressure and the shutdown alarm, still in ALARM, takes the fleet to 0
    assert empty_queue_run(Platform.EC2, 8) == [10, 10, 10, 10, 3, 2, 1, 0]


# ------------------------------------------------------------------ missing datapoints


def test_target_tracking_acts_on_the_newest_datapoints_of_its_evaluation_range() -> None:
    # 8 per instance against the target 4 on 2 instances, with the second minute missing: CloudWatch
    # evaluates the 3 newest datapoints of a wider range, filling in as few missing ones as it can;
    # at minute 3 they are 8, (missing), 8: the oldest breaches and nothing newer is good: ALARM.
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    first = cp.evaluate(PeriodInput(60.0, 8.0, 16, 0, 2, 2))
    second = cp.evaluate(PeriodInput.missing(120.0, running=2, desired=2))
    third = cp.evaluate(PeriodInput(180.0, 8.0, 16, 0, 2, 2))
    assert second.alarms[AlarmName.HIGH] is AlarmState.INSUFFICIENT_DATA
    assert [r.desired for r in (first, second, third)] == [2, 2, 4]  # ceil(2 x 8 / 4)
    assert third.alarms[AlarmName.HIGH] is AlarmState.ALARM


def test_with_the_publisher_silent_target_tracking_reevaluates_its_last_datapoints_then_stops() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    assert [cp.evaluate(PeriodInput(60.0 * m, 8.0, 16, 0, 2, 2)).desired for m in (1, 2, 3)] == [2, 2, 4]
    # The 5-datapoint range still holds breaching datapoints for 4 more minutes (the oldest evaluated
    # one breaches and the rest are missing: ALARM), then nothing: INSUFFICIENT_DATA
    states = [
        cp.evaluate(PeriodInput.missing(60.0 * m, running=2, desired=4)).alarms[AlarmName.HIGH]
        for m in (4, 5, 6, 7, 8)
    ]
    assert states == [AlarmState.ALARM] * 4 + [AlarmState.INSUFFICIENT_DATA]


def test_in_alarm_on_older_datapoints_target_tracking_sizes_from_the_newest_one() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    for m in (1, 2, 3):
        cp.evaluate(PeriodInput(60.0 * m, 8.0, 16, 0, 2, 2))
    # The 2 instances asked for at minute 3 run now; the alarm re-fires on the last datapoint (8):
    # ceil(4 x 8 / 4) = 8
    assert cp.evaluate(PeriodInput.missing(240.0, running=4, desired=4)).desired == 8


def test_a_not_breaching_alarm_skips_a_missing_datapoint_when_its_range_holds_enough() -> None:
    # An empty queue for 5 minutes with the fourth one missing: at minute 5 only 4 datapoints exist
    # (the fill-in counts as not breaching: OK); at minute 6 the range holds 5, all breaching: ALARM
    cp = ControlPlane(ControlPlaneConfig(target=4.0, shutdown_after_minutes=5, disable_scale_in=True))
    desired = []
    for minute in range(1, 7):
        period = (
            PeriodInput.missing(60.0 * minute, running=2, desired=2)
            if minute == 4
            else PeriodInput(60.0 * minute, 0.0, 0, 0, 2, 2)
        )
        desired.append(cp.evaluate(period).desired)
    assert desired == [2, 2, 2, 2, 2, 0]


def test_a_missed_minute_reevaluates_the_fast_lanes_previous_datapoint() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=50, fast_lane_steps=POLICY.fast_lane_steps))
    first = cp.evaluate(PeriodInput(60.0, 10.0, 20, 0, 2, 2, scale_out_pressure=2.5, scale_in_pressure=1.0))
    assert first.desired == 4  # +100% of 2
    # Nothing published next minute (TreatMissingData missing): the alarm evaluates 2.5 again and
    # invokes the policy on the 4 now running: +100% = 8
    again = cp.evaluate(PeriodInput.missing(120.0, running=4, desired=4))
    assert again.alarms[AlarmName.FAST_LANE] is AlarmState.ALARM
    assert again.desired == 8


def test_target_tracking_scale_in_sizes_from_at_least_one_running_instance() -> None:
    # 15 datapoints of 2.5 against the target 4 (below 3.6) with 1 running and 3 desired:
    # ceil(max(1, 1) x 2.5 / 4) = 1
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    results = [cp.evaluate(PeriodInput(60.0 * m, 2.5, 0, 2, 1, 3)) for m in range(1, 16)]
    assert results[-1].desired == 1


def test_a_minute_with_some_samples_missing_is_the_statistic_of_the_others() -> None:
    # High resolution: the bootstrap alarm's 60 s datapoint is the Maximum of the samples that exist
    cp = ControlPlane(ControlPlaneConfig(target=10.0, period_s=10, step_alarm_period_s=60))
    cp.evaluate(PeriodInput(10.0, 0.0, 3, 0, 0, 0))
    results = [cp.evaluate(PeriodInput.missing(10.0 * t, running=0, desired=0)) for t in range(2, 7)]
    assert [r.desired for r in results] == [0, 0, 0, 0, 1]


def test_a_stale_bootstrap_datapoint_re_fires_its_exact_capacity() -> None:
    # The bootstrap alarm (1 of 1, notBreaching) keeps evaluating its last datapoint (desired 0,
    # 3 visible) while the publisher is silent: its ExactCapacity 1 applies even below desired, and
    # then asks for what is desired (1) without acting; its scale-in's cooldown does not hide that
    cp = ControlPlane(ControlPlaneConfig(target=4.0, platform=Platform.ECS, step_cooldown_s=60.0))
    assert cp.evaluate(PeriodInput(60.0, 3.0, 3, 0, 0, 0)).desired == 1
    down = cp.evaluate(PeriodInput.missing(120.0, running=1, desired=5))
    assert (down.desired, [(a.source, a.capacity, a.applied) for a in down.actions]) == (
        1,
        [(Source.BOOTSTRAP, 1, True)],
    )
    again = cp.evaluate(PeriodInput.missing(180.0, running=1, desired=1))
    assert [(a.source, a.capacity, a.applied) for a in again.actions] == [(Source.BOOTSTRAP, 1, False)]


# ------------------------------------------------------------------ published pressures


def test_the_fast_lane_compares_the_pressure_the_publisher_published() -> None:
    # The publisher read the target 4: 10 / 4 = 2.5. The tuner then set 8 before the alarm evaluated;
    # the alarm still sees 2.5 (+100% of 2 = 4), not 10 / 8 = 1.25 (+20%: 3)
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=50, fast_lane_steps=POLICY.fast_lane_steps))
    cp.set_target(8.0)
    result = cp.evaluate(PeriodInput(60.0, 10.0, 20, 0, 2, 2, scale_out_pressure=2.5, scale_in_pressure=1.0))
    assert result.desired == 4
    assert result.actions[0].reason == "pressure 2.50 with 2 running"


def test_the_scale_in_lane_compares_the_pressure_the_publisher_published() -> None:
    # Published with the target 4: 4 in flight on 10 -> 0.1 (-75%: 3); with the target 1 that the
    # tuner set since, the model would have found 4 / (10 x 1) = 0.4 (-50%: 5)
    cp = ControlPlane(
        ControlPlaneConfig(
            target=4.0, max_capacity=20, disable_scale_in=True, scale_in_lane_steps=POLICY.scale_in_lane_steps
        )
    )
    cp.set_target(1.0)
    results = [
        cp.evaluate(PeriodInput(60.0 * m, 0.4, 0, 4, 10, 10, scale_in_pressure=0.1)) for m in range(1, 6)
    ]
    assert results[-1].desired == 3


def test_pressures_that_were_not_published_are_missing_datapoints() -> None:
    # The publisher could not read the target: BacklogPerInstance is there, the pressures are not.
    # The model does not make them up: the fast lane's alarm has no datapoint and does nothing.
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=50, fast_lane_steps=POLICY.fast_lane_steps))
    result = cp.evaluate(PeriodInput(60.0, backlog_per_instance(20, 0, 2), 20, 0, 2, 2))
    assert result.actions == ()
    assert result.alarms[AlarmName.FAST_LANE] is AlarmState.INSUFFICIENT_DATA


# ------------------------------------------------------------------ ECS step-policy cooldown


def lane_run(platform: Platform, minutes: int, **config: object) -> list[int]:
    """One message in flight on 10 instances (no shutdown), the scale-in lane alone."""
    cp = ControlPlane(
        ControlPlaneConfig(
            target=4.0,
            platform=platform,
            max_capacity=20,
            disable_scale_in=True,
            scale_in_lane_steps=POLICY.scale_in_lane_steps,
            **config,  # type: ignore[arg-type]
        )
    )
    desired, out = 10, []
    for minute in range(1, minutes + 1):
        metric = backlog_per_instance(0, 1, desired)
        pressure = scale_in_pressure(metric, desired, desired, 4.0)
        desired = cp.evaluate(
            PeriodInput(60.0 * minute, metric, 0, 1, desired, desired, scale_in_pressure=pressure)
        ).desired
        out.append(desired)
    return out


def test_an_ecs_scale_in_step_waits_out_its_cooldown_before_it_scales_in_again() -> None:
    # Minute 5: pressure 1/10, -75% of 10 -> 3. The cooldown (60 s) starts when that activity
    # completes, a moment after minute 5, so the re-fire at minute 6 is blocked; minute 7: pressure
    # 1/3, -50% of 3 = -1.5 -> -1: 2; minute 8 blocked; minute 9: 1/2, -50% of 2: 1
    assert lane_run(Platform.ECS, 9, step_cooldown_s=60.0) == [10, 10, 10, 10, 3, 3, 2, 2, 1]
    # EC2 step policies have no cooldown: the alarm's every re-fire acts
    assert lane_run(Platform.EC2, 9, step_cooldown_s=60.0) == [10, 10, 10, 10, 3, 2, 1, 1, 1]


def test_without_a_cooldown_an_ecs_step_policy_waits_awss_default_300_seconds() -> None:
    # Minute 5: 10 -> 3; the next scale-in waits until after minute 10 (300 s): minute 11
    assert lane_run(Platform.ECS, 11) == [10, 10, 10, 10] + [3] * 6 + [2]


def test_a_step_policys_cooldown_blocks_only_its_own_scale_ins() -> None:
    # Minute 5: the lane (3) wins over the shutdown alarm (0); minute 6: the lane is in its cooldown,
    # the shutdown alarm is not: 0
    assert empty_queue_run(Platform.ECS, 6, step_cooldown_s=60.0) == [10, 10, 10, 10, 3, 0]


def test_an_ecs_lane_step_landing_on_desired_asks_nothing() -> None:
    # 20 running, 18 desired (2 draining), pressure 0.8: -10% of 20 running = 18, what is desired
    cp = ControlPlane(
        ControlPlaneConfig(
            target=4.0,
            platform=Platform.ECS,
            max_capacity=40,
            disable_scale_in=True,
            scale_in_lane_steps=POLICY.scale_in_lane_steps,
        )
    )
    results = [
        cp.evaluate(PeriodInput(60.0 * m, 1.5, 0, 30, 20, 18, scale_in_pressure=0.8)) for m in range(1, 6)
    ]
    assert results[-1].alarms[AlarmName.SCALE_IN_LANE] is AlarmState.ALARM
    assert results[-1].actions == ()


def test_a_scale_out_during_a_scale_in_cooldown_acts_at_once() -> None:
    cp = ControlPlane(
        ControlPlaneConfig(
            target=4.0,
            platform=Platform.ECS,
            max_capacity=20,
            disable_scale_in=True,
            fast_lane_steps=POLICY.fast_lane_steps,
            scale_in_lane_steps=POLICY.scale_in_lane_steps,
            step_cooldown_s=60.0,
        )
    )
    for m in range(1, 6):
        last = cp.evaluate(
            PeriodInput(60.0 * m, 0.1, 0, 1, 10, 10, scale_out_pressure=0.025, scale_in_pressure=0.1)
        )
    assert last.desired == 3
    # A burst at minute 6, inside the lane's cooldown: pressure 2.5 on 3 running, +100%: 6
    burst = cp.evaluate(PeriodInput(360.0, 10.0, 30, 0, 3, 3, scale_out_pressure=2.5, scale_in_pressure=1.0))
    assert burst.desired == 6


def test_during_a_scale_out_cooldown_only_a_larger_step_adds_and_only_the_difference() -> None:
    cp = ControlPlane(
        ControlPlaneConfig(
            target=4.0,
            platform=Platform.ECS,
            max_capacity=50,
            fast_lane_steps=POLICY.fast_lane_steps,
            step_cooldown_s=60.0,
            high_datapoints=5,  # target tracking out of the way
        )
    )
    assert (
        cp.evaluate(
            PeriodInput(60.0, 10.0, 20, 0, 2, 2, scale_out_pressure=2.5, scale_in_pressure=1.0)
        ).desired
        == 4
    )
    # The same step again, the 2 new tasks still starting: +100% of 2 running is what is desired
    same = cp.evaluate(PeriodInput(120.0, 10.0, 20, 0, 2, 4, scale_out_pressure=2.5, scale_in_pressure=1.0))
    assert same.actions == ()
    # A larger step (+200% from 3.5): 6, the 2 already added counting toward it
    assert (
        cp.evaluate(
            PeriodInput(180.0, 14.0, 28, 0, 2, 4, scale_out_pressure=3.5, scale_in_pressure=1.0)
        ).desired
        == 6
    )
