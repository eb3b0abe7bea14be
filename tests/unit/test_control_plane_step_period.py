"""High-resolution mode: target tracking on 10 s periods, bootstrap and shutdown on their 60 s Period."""

from __future__ import annotations

import pytest

from qas.model.control_plane import ControlPlane, ControlPlaneConfig, PeriodInput, Source
from queue_autoscaler.scaling.policy_spec import POLICY


def plane(**kw: object) -> ControlPlane:
    return ControlPlane(ControlPlaneConfig(target=10.0, max_capacity=8, period_s=10, **kw))  # type: ignore[arg-type]


def test_bootstrap_waits_for_its_minute_and_takes_the_maximum() -> None:
    cp = plane(step_alarm_period_s=60)
    # Work is visible at one 10 s sample only (the second); nothing is desired.
    visible = [0, 3, 0, 0, 0, 0]
    results = [cp.evaluate(PeriodInput(10.0 * (i + 1), 0.0, v, 0, 0, 0)) for i, v in enumerate(visible)]
    assert [r.desired for r in results] == [0, 0, 0, 0, 0, 1]
    assert [a.source for a in results[-1].actions] == [Source.BOOTSTRAP]


def test_shutdown_needs_every_sample_of_its_minutes_empty() -> None:
    cp = plane(step_alarm_period_s=60, shutdown_after_minutes=1)
    assert cp.config.shutdown_datapoints == 1
    busy_once = [0, 0, 0, 1, 0, 0]  # in flight at one sample of the first minute
    first = [
        cp.evaluate(PeriodInput(10.0 * (i + 1), 0.0, 0, f, 1, 1)).desired for i, f in enumerate(busy_once)
    ]
    second = [cp.evaluate(PeriodInput(60.0 + 10.0 * (i + 1), 0.0, 0, 0, 1, 1)).desired for i in range(6)]
    assert first == [1] * 6
    assert second == [1, 1, 1, 1, 1, 0]


def test_the_scale_in_lane_takes_the_maximum_pressure_of_its_minute() -> None:
    cp = plane(step_alarm_period_s=60, disable_scale_in=True, scale_in_lane_steps=POLICY.scale_in_lane_steps)
    # Five minutes whose first sample reports 0.95 (nothing to remove) and the rest 0.1: each minute's
    # Maximum is 0.95, not below 0.9: the lane never acts
    desired = []
    for tick in range(30):
        pressure = 0.95 if tick % 6 == 0 else 0.1
        period = PeriodInput(10.0 * (tick + 1), 0.5, 0, 4, 8, 8, scale_in_pressure=pressure)
        desired.append(cp.evaluate(period).desired)
    assert desired == [8] * 30


def test_without_a_step_period_they_follow_target_trackings_period() -> None:
    cp = plane()
    assert cp.config.step_period_s == 10 and cp.config.shutdown_datapoints == 90
    assert cp.evaluate(PeriodInput(10.0, 0.0, 3, 0, 0, 0)).desired == 1


def test_a_step_period_must_be_a_multiple_of_the_period() -> None:
    with pytest.raises(ValueError, match="multiple"):
        ControlPlaneConfig(target=1.0, period_s=10, step_alarm_period_s=45)


def test_a_missing_period_fires_nothing_even_when_work_waits() -> None:
    cp = ControlPlane(ControlPlaneConfig(target=1.0, max_capacity=4))
    result = cp.evaluate(PeriodInput.missing(60.0, running=0, desired=0))
    assert result.desired == 0 and result.actions == ()
    assert result.alarms  # every alarm has a state
