"""The platform objects on plain values: one Platform type, what each platform builds and how each model
platform holds scale-in back. The seam's scan and registries are tests/architecture/test_platform_seam.py."""

from __future__ import annotations

from qas.model import control_config, control_plane
from qas.model.control_plane import ControlPlaneConfig
from qas.model.platforms import MODEL_PLATFORMS
from queue_autoscaler.adapters.fleet import AsgFleet, AsgTargetPolicy, EcsServiceFleet, EcsTargetPolicy
from queue_autoscaler.common import settings
from queue_autoscaler.common.platform import Platform
from queue_autoscaler.platforms import platform_of


def test_platform_is_defined_once():
    assert settings.Platform is Platform
    assert control_config.Platform is Platform
    assert control_plane.Platform is Platform


def test_the_lambdas_platforms_build_their_own_adapters():
    ec2, ecs = platform_of(Platform.EC2), platform_of(Platform.ECS)
    assert isinstance(ec2.fleet("", "group"), AsgFleet)
    assert isinstance(ec2.target_policy("", "group", "tracking"), AsgTargetPolicy)
    assert isinstance(ecs.fleet("cluster", "service"), EcsServiceFleet)
    policy = ecs.target_policy("cluster", "service", "tracking")
    assert isinstance(policy, EcsTargetPolicy)
    assert policy.resource_id == "service/cluster/service"
    assert (ec2.needs_cluster, ecs.needs_cluster) == (False, True)
    assert (ec2.high_resolution, ecs.high_resolution) == (True, False)
    assert (ec2.policy_service, ecs.policy_service) == ("autoscaling", "application-autoscaling")


def test_peers_are_spelled_per_platform():
    asg = platform_of(Platform.EC2).peer_fleet("blue/green", "mine")
    assert isinstance(asg, AsgFleet)
    assert asg.name == "blue/green"
    elsewhere = platform_of(Platform.ECS).peer_fleet("other/blue", "mine")
    assert isinstance(elsewhere, EcsServiceFleet)
    assert (elsewhere.cluster, elsewhere.service) == ("other", "blue")
    here = platform_of(Platform.ECS).peer_fleet("blue", "mine")
    assert isinstance(here, EcsServiceFleet)
    assert (here.cluster, here.service) == ("mine", "blue")


def test_the_model_platforms_hold_back_scale_in_by_their_own_rule():
    config = ControlPlaneConfig(
        target=10.0, instance_warmup_s=60.0, scale_out_cooldown_s=120.0, scale_in_cooldown_s=300.0
    )
    ec2, ecs = MODEL_PLATFORMS[Platform.EC2], MODEL_PLATFORMS[Platform.ECS]
    # EC2: the warm-up after a scale-out only (59 s < 60 s; a scale-in leaves nothing to wait for).
    assert ec2.scale_in_held(config, 59.0, 0.0, None)
    assert not ec2.scale_in_held(config, 60.0, 0.0, None)
    assert not ec2.scale_in_held(config, 10.0, None, 0.0)
    # ECS: the scale-out cooldown (120 s) after a scale-out, the scale-in cooldown (300 s) after a scale-in.
    assert ecs.scale_in_held(config, 119.0, 0.0, None)
    assert not ecs.scale_in_held(config, 120.0, 0.0, None)
    assert ecs.scale_in_held(config, 299.0, None, 0.0)
    assert not ecs.scale_in_held(config, 300.0, None, 0.0)
    assert (ec2.step_scale_in_cooldown_s(config), ecs.step_scale_in_cooldown_s(config)) == (None, 300.0)
    assert not ec2.scales_out_from_zero(config, 0)
    assert ecs.scales_out_from_zero(config, 0)
    assert not ecs.scales_out_from_zero(config, 1)
    off = ControlPlaneConfig(target=10.0, ecs_scale_out_from_zero=False)
    assert not ecs.scales_out_from_zero(off, 0)
