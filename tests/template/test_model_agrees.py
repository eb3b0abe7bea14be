"""The template's alarms and step policies hold what the control-plane model assumes of them: each
alarm's TreatMissingData (qas.model.control_plane.TREAT_MISSING) and the ECS step policies' Cooldown
(the simulator's FleetSettings.step_cooldown_s; the demo reads the deployed policies)."""

from __future__ import annotations

from typing import Any

from qas.model.control_plane import TREAT_MISSING, AlarmName
from qas.sim.policies import FleetSettings

ALARMS = {
    "BootstrapAlarm": AlarmName.BOOTSTRAP,
    "ShutdownAlarm": AlarmName.SHUTDOWN,
    "FastLaneAlarm": AlarmName.FAST_LANE,
    "ScaleInLaneAlarm": AlarmName.SCALE_IN_LANE,
}
ECS_STEP_POLICIES = ("EcsBootstrapPolicy", "EcsShutdownPolicy", "EcsFastLanePolicy", "EcsScaleInLanePolicy")
SIMULATED = FleetSettings(slo_s=60.0, max_capacity=1, boot_s=0.0, concurrency=1)


def test_each_alarm_treats_missing_data_as_the_model_does(resources: dict[str, Any]) -> None:
    for logical_id, name in ALARMS.items():
        assert resources[logical_id]["Properties"]["TreatMissingData"] == TREAT_MISSING[name], logical_id


def test_the_ecs_step_policies_cooldown_is_the_simulators(resources: dict[str, Any]) -> None:
    cooldowns = {
        logical_id: resources[logical_id]["Properties"]["StepScalingPolicyConfiguration"]["Cooldown"]
        for logical_id in ECS_STEP_POLICIES
    }
    assert cooldowns == dict.fromkeys(ECS_STEP_POLICIES, SIMULATED.step_cooldown_s)
    assert SIMULATED.control_plane(10.0).step_cooldown_s == SIMULATED.step_cooldown_s
    # EC2 step policies have no cooldown (the model applies none on EC2)
    ec2_steps = [r for r in resources.values() if r["Type"] == "AWS::AutoScaling::ScalingPolicy"]
    assert ec2_steps and all("Cooldown" not in r["Properties"] for r in ec2_steps)
