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
from qas.model.platforms import MODEL_PLATFORMS
from qas.plan.prices import DEFAULT_PRICE, PRICES
from qas.sim.api_calls import APIS
from queue_autoscaler.common.platform import Platform
from queue_autoscaler.platforms import PLATFORMS

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
