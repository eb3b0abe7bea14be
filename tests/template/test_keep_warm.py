"""KeepWarm on the translated template: the shutdown alarm waits KeepWarmMinutes instead of
ShutdownAfterMinutes and target tracking's scale-in is off, as `qas.model.control_config.control_plane_config`
(the simulator's and the demo's settings) has it."""

from __future__ import annotations

import pytest

from qas.sim.policies import SimFleet
from tests.template.conftest import active, resolved


def shutdown_datapoints(parameters: dict[str, str]) -> tuple[int, int]:
    translated, resolver = resolved(parameters)
    props = resolver.resolve(translated["Resources"]["ShutdownAlarm"]["Properties"])
    return int(props["EvaluationPeriods"]), int(props["DatapointsToAlarm"])


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_the_shutdown_alarm_waits_keep_warm_minutes_only_with_keep_warm(platform: str) -> None:
    base = {"WorkerPlatform": platform, "ShutdownAfterMinutes": "4", "KeepWarmMinutes": "12"}
    assert shutdown_datapoints(base) == (4, 4)
    assert shutdown_datapoints({**base, "KeepWarm": "false"}) == (4, 4)
    assert shutdown_datapoints({**base, "KeepWarm": "true"}) == (12, 12)


def test_the_simulator_uses_the_same_rule() -> None:
    cold = SimFleet(slo_s=300, max_capacity=5, boot_s=180, concurrency=1, keep_warm_minutes=12)
    assert cold.keeps_warm and cold.control_plane(4.0).shutdown_after_minutes == 12
    quick = SimFleet(slo_s=300, max_capacity=5, boot_s=60, concurrency=1, keep_warm_minutes=12)
    assert not quick.keeps_warm and quick.control_plane(4.0).shutdown_after_minutes == 5


TRACKING = {"EC2": "Ec2TrackingPolicy", "ECS": "EcsTrackingPolicy"}
LANE = {"EC2": "Ec2ScaleInLanePolicy", "ECS": "EcsScaleInLanePolicy"}


def tracking_disables_scale_in(parameters: dict[str, str]) -> bool:
    translated, resolver = resolved(parameters)
    props = resolver.resolve(translated["Resources"][TRACKING[parameters["WorkerPlatform"]]]["Properties"])
    config = props.get("TargetTrackingConfiguration") or props["TargetTrackingScalingPolicyConfiguration"]
    return bool(config["DisableScaleIn"])


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
@pytest.mark.parametrize(
    "others",
    [{}, {"ScaleInLane": "false"}, {"QueueType": "FIFO"}],
    ids=["defaults", "lane-off", "fifo"],
)
def test_keep_warm_scales_in_only_through_step_policies(platform: str, others: dict[str, str]) -> None:
    # How target tracking rounds a scale-in is not documented beyond "conservatively": with KeepWarm its
    # scale-in is off, and the scale-in lane (PercentChangeInCapacity, documented rounding, never the
    # last instance) and the shutdown alarm (ExactCapacity 0) are the only ways down.
    warm = {"WorkerPlatform": platform, "KeepWarm": "true", **others}
    assert tracking_disables_scale_in(warm)
    assert {"ScaleInLaneAlarm", LANE[platform], "ShutdownAlarm"} <= active(warm)
    cold = {**warm, "KeepWarm": "false"}
    assert not tracking_disables_scale_in(cold)


def test_the_simulator_models_keep_warm_the_same_way() -> None:
    cold_start = SimFleet(slo_s=300, max_capacity=5, boot_s=180, concurrency=1, scale_in_lane=False)
    config = cold_start.control_plane(4.0)
    assert cold_start.keeps_warm and config.disable_scale_in and config.scale_in_lane_steps
    quick = SimFleet(slo_s=300, max_capacity=5, boot_s=60, concurrency=1)
    assert not quick.keeps_warm and not quick.control_plane(4.0).disable_scale_in
