"""The worker's side of the platform seam: its Platform is a value-level copy of the Lambdas' one plus
LOCAL, every platform has its parts, and the image (worker/ alone) holds every module the worker imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from queue_autoscaler.common.platform import Platform as FleetPlatform
from tests.worker.conftest import REPO_ROOT
from worker import settings
from worker.fleet_platform import TRAITS, Platform
from worker.platform_parts import PARTS

WORKER = REPO_ROOT / "worker"


def test_the_worker_knows_every_fleet_platform_by_the_same_value_and_local():
    assert {p.value for p in Platform} == {p.value for p in FleetPlatform} | {"LOCAL"}
    assert settings.Platform is Platform


def test_every_worker_platform_has_its_parts_and_traits():
    assert set(PARTS) == set(Platform)
    assert set(TRAITS) == set(Platform)
    # Only ECS needs the agent and watches rollouts; LOCAL makes no platform call at all.
    assert {p for p, t in TRAITS.items() if t.needs_ecs_agent} == {Platform.ECS}
    assert {p for p, t in TRAITS.items() if t.watches_rollouts} == {Platform.ECS}


def _requirements() -> set[str]:
    lines = (WORKER / "requirements.txt").read_text().splitlines()
    names = {
        line.split("==")[0].strip().lower() for line in lines if line.strip() and not line.startswith("#")
    }
    return names | {"botocore"} if "boto3" in names else names  # boto3 brings botocore


def test_the_image_holds_every_module_the_worker_imports():
    """worker/Dockerfile copies worker/ and installs worker/requirements.txt, nothing else: an import of
    the Lambda bundle (queue_autoscaler) or of qas would fail in the image only."""
    allowed = set(sys.stdlib_module_names) | {"worker"} | _requirements()
    outside = []
    for path in sorted(WORKER.rglob("*.py")):
        if "examples" in path.relative_to(WORKER).parts:
            continue  # examples build their own images FROM the worker's
        outside += [
            f"{path.relative_to(REPO_ROOT)}: {m}" for m in _run_time_imports(path) if m not in allowed
        ]
    assert outside == []


def _run_time_imports(path: Path) -> set[str]:
    """The top-level packages a module imports when it runs (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found


def test_the_import_check_sees_a_run_time_import_of_the_lambda_bundle(tmp_path: Path):
    module = tmp_path / "module.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nimport boto3\n"
        "from queue_autoscaler.common.platform import Platform\n"
        "if TYPE_CHECKING:\n    from mypy_boto3_sqs import SQSClient\n"
    )
    assert _run_time_imports(module) == {"typing", "boto3", "queue_autoscaler"}
