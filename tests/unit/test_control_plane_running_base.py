"""Step adjustments start from the running capacity, not the desired one (EC2 and ECS).

While protected instances or tasks drain after a scale-in, running exceeds desired. ECS then applies a
step to the running task count, which can leave the desired count where it was or even raise it
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-auto-scaling.html, considerations:
"the actual running task count in a service is the value that Service Auto Scaling uses as its
starting point, as opposed to the desired count"). EC2 applies it to the current capacity and takes no
action when the result does not go below desired
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html).
"""

from __future__ import annotations

import pytest

from qas.model.control_plane import (
    ControlPlane,
    ControlPlaneConfig,
    PeriodInput,
    PeriodResult,
    Platform,
    Source,
)
from queue_autoscaler.scaling.backlog import backlog_per_instance
from queue_autoscaler.scaling.policy_spec import POLICY
from queue_autoscaler.scaling.scale_in_lane import scale_in_pressure

TARGET = 4.0


def plane(platform: Platform) -> ControlPlane:
    return ControlPlane(
        ControlPlaneConfig(
            target=TARGET,
            platform=platform,
            max_capacity=40,
            scale_in_lane_steps=POLICY.scale_in_lane_steps,
            # The lane alone: no target-tracking scale-in, and no scale-out within the five minutes
            disable_scale_in=True,
            high_datapoints=POLICY.scale_in_lane_datapoints + 1,
        )
    )


def lane_run(
    cp: ControlPlane, *, in_flight: int, running: int, desired: int, pressure: float | None = None
) -> PeriodResult:
    """Five one-minute periods at a fixed running and desired capacity; the last one's result."""
    result = None
    for minute in range(1, POLICY.scale_in_lane_datapoints + 1):
        metric = backlog_per_instance(0, in_flight, running)
        published = scale_in_pressure(metric, running, desired, TARGET) if pressure is None else pressure
        result = cp.evaluate(
            PeriodInput(60.0 * minute, metric, 0, in_flight, running, desired, scale_in_pressure=published)
        )
    assert result is not None
    return result


@pytest.mark.parametrize("platform", [Platform.EC2, Platform.ECS])
def test_the_lane_step_removes_a_share_of_the_running_capacity(platform: Platform) -> None:
    # Given 20 running of which 10 are protected and draining (desired 10), 2 messages in flight
    cp = plane(platform)
    # Then the pressure is 2 / (20 x 4) = 0.025, floored at 1/20: -75% of 20 RUNNING = -15 -> 5
    # (the old model took 75% of the desired 10 and reached 3)
    assert lane_run(cp, in_flight=2, running=20, desired=10).desired == 5


def test_on_ecs_a_scale_in_step_from_the_running_count_raises_the_desired_count() -> None:
    # Given the pressure a publisher computed per DESIRED instance: 0.8 -> the -10% step
    cp = plane(Platform.ECS)
    # Then ECS removes 10% of the 20 RUNNING tasks: desired 18, up from 10
    result = lane_run(cp, in_flight=30, running=20, desired=10, pressure=0.8)
    assert result.desired == 18
    assert [(a.source, a.is_scale_out) for a in result.actions if a.applied] == [(Source.SCALE_IN_LANE, True)]


def test_on_ec2_a_step_that_does_not_go_below_desired_does_nothing() -> None:
    # The same alarm on EC2: 20 - 2 = 18 is not below the desired 10, so no scaling action is taken
    assert lane_run(plane(Platform.EC2), in_flight=30, running=20, desired=10, pressure=0.8).desired == 10


@pytest.mark.parametrize("running", [2, 3, 4, 5, 7, 10, 16, 20, 33, 40])
@pytest.mark.parametrize("desired", [1, 2, 3, 5, 8, 13, 21, 34])
@pytest.mark.parametrize("backlog", [0, 1, 3, 7, 15, 40, 100])
def test_a_published_pressure_always_lowers_the_desired_count(
    running: int, desired: int, backlog: int
) -> None:
    # Whatever the running and desired counts, the pressure the publisher reports either says "nothing
    # to remove" or selects a step that, applied to the RUNNING count, lands below desired and never
    # below what target tracking keeps (ceil(backlog / target), at least one instance).
    pressure = scale_in_pressure(backlog_per_instance(0, backlog, running), running, desired, TARGET)
    for platform in (Platform.EC2, Platform.ECS):
        after = lane_run(plane(platform), in_flight=backlog, running=running, desired=desired).desired
        if pressure >= 0.9:
            assert after == desired
        else:
            assert max(1, -(-backlog // int(TARGET))) <= after < desired


def test_the_fast_lane_adds_a_share_of_the_running_count_on_ecs_too() -> None:
    # Given 20 tasks running (10 of them draining, desired 10) and pressure 1.6: the +50% step
    cp = ControlPlane(
        ControlPlaneConfig(
            target=TARGET, platform=Platform.ECS, max_capacity=60, fast_lane_steps=((1.2, 0.2), (1.5, 0.5))
        )
    )
    metric = 1.6 * TARGET
    result = cp.evaluate(PeriodInput(60.0, metric, int(metric * 20), 0, 20, 10, scale_out_pressure=1.6))
    # Then the new desired count is 20 + 10 = 30: the step starts from running, not from desired
    assert result.desired == 30
    assert [a.source for a in result.actions if a.applied] == [Source.FAST_LANE]
