"""The platform seam holds: every platform has an entry in every registry keyed by `Platform`, and no
module outside the platform modules branches on a platform value (docs/architecture.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from qas.demo.attach import ATTACH_PARAMETERS, CREATE_FLEET
from qas.demo.fleet import CAPACITY_APIS
from qas.doctor.network import PLATFORM_SERVICES
from qas.doctor.preflight import ACCOUNT_CHECKS, FIRST_DEPLOY, QUOTAS
from qas.doctor.rollout import ROLLOUTS
from qas.doctor.stack import TRACKING_ALARM_PREFIX
from qas.doctor.starts import STARTS
from qas.model import control_config, control_plane
from qas.model.control_plane import ControlPlaneConfig
from qas.model.platforms import MODEL_PLATFORMS
from qas.plan.prices import DEFAULT_PRICE, PRICES
from qas.sim.api_calls import APIS
from queue_autoscaler.adapters.fleet import AsgFleet, AsgTargetPolicy, EcsServiceFleet, EcsTargetPolicy
from queue_autoscaler.common import settings
from queue_autoscaler.common.platform import Platform
from queue_autoscaler.platforms import PLATFORMS, platform_of

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("src", "qas", "worker", "benchmarks", "lint")
PLATFORM_VALUES = frozenset(p.value for p in Platform)

# Where comparing with a platform value is allowed, and why. Keep it short: anything else asks a
# platform module (queue_autoscaler.platforms, qas.model.platforms, worker.platform_parts) or a registry
# keyed by Platform instead. (The platform modules themselves need no entry: each is one platform.)
ALLOWED = {
    # The emulator plays CloudFormation for what moto skips of the template's resources, which
    # template.yaml itself selects by WorkerPlatform (Conditions): a template-side fact.
    "qas/emulator/materialize.py": "the template's per-platform resources, as CloudFormation creates them",
}

REGISTRIES: dict[str, Mapping[Any, Any]] = {
    "queue_autoscaler.platforms.PLATFORMS": PLATFORMS,
    "qas.model.platforms.MODEL_PLATFORMS": MODEL_PLATFORMS,
    "qas.sim.api_calls.APIS": APIS,
    "qas.demo.fleet.CAPACITY_APIS": CAPACITY_APIS,
    "qas.demo.attach.ATTACH_PARAMETERS": ATTACH_PARAMETERS,
    "qas.demo.attach.CREATE_FLEET": CREATE_FLEET,
    "qas.doctor.starts.STARTS": STARTS,
    "qas.doctor.rollout.ROLLOUTS": ROLLOUTS,
    "qas.doctor.network.PLATFORM_SERVICES": PLATFORM_SERVICES,
    "qas.doctor.stack.TRACKING_ALARM_PREFIX": TRACKING_ALARM_PREFIX,
    "qas.doctor.preflight.ACCOUNT_CHECKS": ACCOUNT_CHECKS,
    "qas.doctor.preflight.FIRST_DEPLOY": FIRST_DEPLOY,
    "qas.doctor.preflight.QUOTAS": QUOTAS,
    "qas.plan.prices.PRICES": PRICES,
    "qas.plan.prices.DEFAULT_PRICE": DEFAULT_PRICE,
}


def _is_member(node: ast.AST) -> bool:
    """`Platform.EC2` (or `<module>.Platform.ECS`), for every platform value."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in PLATFORM_VALUES
        and ast.unparse(node.value).endswith("Platform")
    )


def _is_value(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in PLATFORM_VALUES


def _operands(node: ast.expr) -> Iterator[ast.expr]:
    yield node
    if isinstance(node, ast.Set | ast.Tuple | ast.List):
        yield from node.elts


def _names_a_platform(node: ast.AST) -> bool:
    return "platform" in ast.unparse(node).lower()


def platform_branches(source: str) -> list[int]:
    """Lines that compare with a platform (==, !=, is, is not, in, not in, inside a literal tuple,
    list or set too) or match on one: a `Platform` member anywhere, or the string "EC2"/"ECS" against
    something named *platform* (a group's HealthCheckType "EC2" or a deployment controller "ECS" is
    not a platform)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            flat = [o for operand in operands for o in _operands(operand)]
            strings = any(_is_value(o) for o in flat) and any(_names_a_platform(o) for o in operands)
            if strings or any(_is_member(o) for o in flat):
                lines.append(node.lineno)
        elif isinstance(node, ast.Match):
            subject_is_platform = _names_a_platform(node.subject)
            for case in node.cases:
                for pattern in ast.walk(case.pattern):
                    if isinstance(pattern, ast.MatchValue) and (
                        _is_member(pattern.value) or (subject_is_platform and _is_value(pattern.value))
                    ):
                        lines.append(pattern.lineno)
    return lines


def _allowed(relative: str) -> bool:
    return any(relative == entry or (entry.endswith("/") and relative.startswith(entry)) for entry in ALLOWED)


def test_no_module_outside_the_platform_modules_branches_on_a_platform():
    found = []
    for root in SCANNED:
        for path in sorted((REPO / root).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if _allowed(relative):
                continue
            found += [f"{relative}:{line}" for line in platform_branches(path.read_text())]
    assert found == [], "ask the platform's module (docs/architecture.md), do not branch: " + ", ".join(found)


def test_every_allowed_entry_still_exists_and_still_needs_its_place():
    for entry in ALLOWED:
        path = REPO / entry
        assert path.exists(), (
            f"{entry} is allowed but does not exist: drop it from ALLOWED (or name its successor)"
        )
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        branches = [line for file in files for line in platform_branches(file.read_text())]
        assert branches, f"{entry} no longer branches on a platform: drop it from ALLOWED"


@pytest.mark.parametrize(
    "source",
    [
        'if platform == "EC2":\n    pass',
        "x = a if settings.platform is Platform.ECS else b",
        'ok = platform not in ("ECS", "other")',
        "match platform:\n    case Platform.EC2:\n        pass",
        "match platform:\n    case 'ECS':\n        pass",
        'if stack.parameters.get("WorkerPlatform") == "ECS":\n    pass',
    ],
)
def test_the_scan_sees_each_way_of_branching(source: str):
    assert platform_branches(source) == [1 if "match" not in source else 2]


@pytest.mark.parametrize(
    "source",
    [
        "PRICES = {Platform.EC2: 1, Platform.ECS: 2}",
        "spec = PLATFORMS[settings.platform]",
        'env = {"WORKER_PLATFORM": "EC2"}',
        'if platform == "LOCAL":\n    pass',
        'kind = problem if group.health_check_type != "EC2" else note',
        'if service.deployment_controller == "ECS":\n    pass',
        "if step.adjustment_type is AdjustmentType.ECS:\n    pass",
    ],
)
def test_the_scan_lets_registries_and_plain_values_be(source: str):
    assert platform_branches(source) == []


@pytest.mark.parametrize("name", sorted(REGISTRIES))
def test_every_platform_has_an_entry_in_each_registry(name: str):
    assert set(REGISTRIES[name]) == set(Platform), name


@pytest.mark.parametrize("registry", [PLATFORMS, MODEL_PLATFORMS], ids=["lambdas", "model"])
def test_each_platform_object_is_filed_under_its_own_platform(registry: Mapping[Platform, Any]):
    assert {key: spec.platform for key, spec in registry.items()} == {p: p for p in Platform}


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
