"""The control-plane model: target-tracking alarms, bootstrap, shutdown, warm-up, cooldowns, scale-in."""

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
    Source,
)
from queue_autoscaler.scaling.backlog import backlog_per_instance


def feed(cp: ControlPlane, start_minute: int, minutes: int, **kwargs: object) -> list[PeriodResult]:
    """Evaluate ``minutes`` periods with the same datapoint, feeding back the desired capacity."""
    desired = int(kwargs.pop("desired"))  # type: ignore[call-overload]
    results = []
    for minute in range(start_minute, start_minute + minutes):
        result = cp.evaluate(PeriodInput(now_s=60.0 * minute, desired=desired, **kwargs))  # type: ignore[arg-type]
        desired = result.desired
        results.append(result)
    return results


def test_aws_worked_example_scales_ten_instances_to_fifteen_after_three_datapoints() -> None:
    # Given AWS's example: 10 instances, 1,500 visible messages, target 100 (metric 150)
    cp = ControlPlane(ControlPlaneConfig(target=100.0, max_capacity=50))
    metric = backlog_per_instance(1500, 0, 10)
    results = feed(cp, 1, 3, metric=metric, visible=1500, in_flight=0, running=10, desired=10)
    # Then nothing happens for two datapoints, and the third brings the group to 15
    assert [r.desired for r in results] == [10, 10, 15]
    assert results[2].actions[0].source is Source.TARGET_TRACKING
    assert results[2].actions[0].applied


def test_single_message_into_empty_fleet_starts_one_instance_through_the_bootstrap_alarm() -> None:
    # One message, target 1: metric == target, which target tracking never scales out on.
    cp = ControlPlane(ControlPlaneConfig(target=1.0))
    result = cp.evaluate(
        PeriodInput(60.0, backlog_per_instance(1, 0, 0), visible=1, in_flight=0, running=0, desired=0)
    )
    assert result.desired == 1
    assert [a.source for a in result.actions] == [Source.BOOTSTRAP]
    assert result.alarms[AlarmName.BOOTSTRAP] is AlarmState.ALARM


def test_bootstrap_is_keyed_on_desired_so_it_stops_once_capacity_was_asked_for() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=5.0))
    results = feed(cp, 1, 4, metric=50.0, visible=50, in_flight=0, running=0, desired=0)
    # Fired once (desired 0 -> 1); then target tracking takes over after three high datapoints.
    assert [r.desired for r in results] == [1, 1, 10, 10]
    assert [a.source for a in results[0].actions] == [Source.BOOTSTRAP]
    assert all(a.source is not Source.BOOTSTRAP for r in results[1:] for a in r.actions)


def test_bootstrap_capacity_can_start_more_than_one() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=5.0, bootstrap_capacity=3))
    assert cp.evaluate(PeriodInput(60.0, 9.0, visible=9, in_flight=0, running=0, desired=0)).desired == 3


def test_scale_out_waits_for_three_datapoints_above_target_and_a_dip_resets_it() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    metrics = [8.0, 8.0, 3.0, 8.0, 8.0, 8.0]
    desired = []
    for minute, metric in enumerate(metrics, start=1):
        result = cp.evaluate(
            PeriodInput(60.0 * minute, metric, visible=16, in_flight=0, running=2, desired=2)
        )
        desired.append(result.desired)
    assert desired == [2, 2, 2, 2, 2, 4]


def test_high_alarm_refires_every_period_while_in_alarm() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    feed(cp, 1, 3, metric=8.0, visible=16, in_flight=0, running=2, desired=2)
    # Still above target with the same running count: the alarm fires again, but the added capacity
    # counts toward desired (warm-up), so no double scale-out.
    again = cp.evaluate(PeriodInput(240.0, 8.0, visible=16, in_flight=0, running=2, desired=4))
    assert again.desired == 4
    assert again.alarms[AlarmName.HIGH] is AlarmState.ALARM
    # Once the new instances run and the backlog grew, it scales out further.
    more = cp.evaluate(PeriodInput(300.0, 10.0, visible=40, in_flight=0, running=4, desired=4))
    assert more.desired == 10


def test_max_capacity_caps_scale_out() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=1.0, max_capacity=3))
    results = feed(cp, 1, 3, metric=100.0, visible=100, in_flight=0, running=1, desired=1)
    assert results[-1].desired == 3


def test_missing_datapoint_means_insufficient_data_and_no_action() -> None:
    # One breaching datapoint, then a missing one: the high alarm's evaluation range holds one
    # datapoint, too recent to alarm on (TreatMissingData missing): INSUFFICIENT_DATA, no action.
    # (What follows a missing datapoint: tests/unit/test_control_plane_fidelity.py.)
    cp = ControlPlane(ControlPlaneConfig(target=4.0, max_capacity=20))
    results = [
        cp.evaluate(PeriodInput(60.0, 8.0, visible=16, in_flight=0, running=2, desired=2)),
        cp.evaluate(PeriodInput.missing(120.0, running=2, desired=2)),
    ]
    assert results[1].alarms[AlarmName.HIGH] is AlarmState.INSUFFICIENT_DATA
    assert [r.desired for r in results] == [2, 2]
    assert results[1].actions == ()


def test_scale_in_needs_fifteen_datapoints_below_ninety_percent_of_target() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10.0))
    # 9.5 is below target but above 90% of it: never scales in.
    assert feed(cp, 1, 20, metric=9.5, visible=38, in_flight=0, running=4, desired=4)[-1].desired == 4
    cp = ControlPlane(ControlPlaneConfig(target=10.0))
    results = feed(cp, 1, 15, metric=5.0, visible=20, in_flight=0, running=4, desired=4)
    assert [r.desired for r in results[:14]] == [4] * 14
    # ceil(4 * 5 / 10) = 2
    assert results[14].desired == 2
    assert results[14].actions[0].reason.startswith("low alarm")


def test_disable_scale_in_keeps_capacity() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10.0, disable_scale_in=True))
    results = feed(cp, 1, 20, metric=1.0, visible=4, in_flight=0, running=4, desired=4)
    assert results[-1].desired == 4
    assert results[-1].alarms[AlarmName.LOW] is AlarmState.OK


def test_ec2_warmup_blocks_scale_in_after_a_scale_out() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10.0, max_capacity=20, instance_warmup_s=1200.0))
    feed(cp, 1, 3, metric=20.0, visible=40, in_flight=0, running=2, desired=2)  # -> 4 at t=180
    results = feed(cp, 4, 20, metric=1.0, visible=4, in_flight=0, running=4, desired=4)
    # Low alarm from t=1080 (15 datapoints), but warm-up lasts until t=1380.
    by_time = {60 * (4 + i): r.desired for i, r in enumerate(results)}
    assert by_time[1320] == 4
    assert by_time[1380] == 1


def test_ecs_starts_from_zero_by_one_after_a_single_datapoint_above_target() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=5.0, platform=Platform.ECS, max_capacity=10))
    # Bootstrap alarm and ECS target tracking both ask for 1; the result is 1 either way.
    result = cp.evaluate(PeriodInput(60.0, 30.0, visible=30, in_flight=0, running=0, desired=0))
    assert result.desired == 1
    assert {a.source for a in result.actions} == {Source.BOOTSTRAP, Source.TARGET_TRACKING}


def test_ecs_scale_in_waits_for_both_cooldowns() -> None:
    cfg = ControlPlaneConfig(target=10.0, platform=Platform.ECS, max_capacity=20, low_datapoints=2)
    cp = ControlPlane(cfg)
    feed(cp, 1, 3, metric=20.0, visible=40, in_flight=0, running=2, desired=2)  # scale-out at t=180
    results = feed(cp, 4, 8, metric=2.0, visible=16, in_flight=0, running=8, desired=4)
    times = [60 * (4 + i) for i in range(8)]
    first_in = next(t for t, r in zip(times, results, strict=True) if r.desired < 4)
    assert first_in == 480  # scale-out cooldown: 180 + 300
    # A further scale-in waits the scale-in cooldown: nothing more within 300 s.
    cp2 = ControlPlane(cfg)
    r1 = feed(cp2, 1, 2, metric=1.0, visible=10, in_flight=0, running=10, desired=10)
    assert r1[-1].desired == 1
    r2 = cp2.evaluate(PeriodInput(180.0, 0.0, visible=0, in_flight=0, running=1, desired=1))
    assert r2.desired == 1


def test_shutdown_after_n_empty_minutes_goes_to_zero_and_refires() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10.0, shutdown_after_minutes=5, disable_scale_in=True))
    results = feed(cp, 1, 5, metric=0.0, visible=0, in_flight=0, running=2, desired=2)
    assert [r.desired for r in results] == [2, 2, 2, 2, 0]
    assert results[-1].actions[0].source is Source.SHUTDOWN
    # In-flight work blocks the shutdown alarm.
    cp = ControlPlane(ControlPlaneConfig(target=10.0, shutdown_after_minutes=5, disable_scale_in=True))
    assert feed(cp, 1, 10, metric=0.5, visible=0, in_flight=1, running=2, desired=2)[-1].desired == 2


def test_scale_out_beats_a_simultaneous_scale_in() -> None:
    # The shutdown alarm cannot coexist with backlog, but the resolution rule is general.
    cp = ControlPlane(ControlPlaneConfig(target=1.0, max_capacity=5))
    results = feed(cp, 1, 3, metric=3.0, visible=3, in_flight=0, running=1, desired=1)
    assert results[-1].desired == 3
    assert results[-1].changed


def test_set_target_changes_the_threshold_over_the_same_history() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=10.0, max_capacity=20))
    feed(cp, 1, 2, metric=6.0, visible=12, in_flight=0, running=2, desired=2)
    cp.set_target(4.0)
    result = cp.evaluate(PeriodInput(180.0, 6.0, visible=12, in_flight=0, running=2, desired=2))
    assert cp.target == 4.0
    assert result.desired == 3  # ceil(2 * 6 / 4)
    with pytest.raises(ValueError):
        cp.set_target(0.0)


def test_periods_must_come_in_time_order() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=1.0))
    cp.evaluate(PeriodInput(120.0, 0.0, visible=0, in_flight=0, running=0, desired=0))
    with pytest.raises(ValueError):
        cp.evaluate(PeriodInput(60.0, 0.0, visible=0, in_flight=0, running=0, desired=0))


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        ControlPlaneConfig(target=0.0)
    with pytest.raises(ValueError):
        ControlPlaneConfig(target=1.0, min_capacity=3, max_capacity=2)
    with pytest.raises(ValueError, match="shutdown_after_minutes"):
        ControlPlaneConfig(target=1.0, shutdown_after_minutes=0)
    assert ControlPlaneConfig(target=1.0, period_s=10, shutdown_after_minutes=2).shutdown_datapoints == 12


def test_bootstrap_steps_start_more_instances_for_a_large_burst() -> None:
    cfg = ControlPlaneConfig(target=10.0, max_capacity=20, bootstrap_steps=((20, 2), (40, 4), (320, 32)))
    assert [cfg.bootstrap_for(v) for v in (1, 19, 20, 39, 40, 500)] == [1, 1, 2, 2, 4, 32]
    cp = ControlPlane(cfg)
    # 32 is asked for and max capacity (20) applies, as the ASG clamps ExactCapacity.
    result = cp.evaluate(PeriodInput(60.0, 500.0, visible=500, in_flight=0, running=0, desired=0))
    assert result.desired == 20
    assert result.actions[0].source is Source.BOOTSTRAP
    with pytest.raises(ValueError):
        ControlPlaneConfig(target=1.0, bootstrap_steps=((0, 3),))
