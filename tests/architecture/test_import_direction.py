"""Which part may import which: the allowed import graph, written once (docs/architecture.md
shows the same graph).

    handlers (metric_publisher, target_tuner, producer, fleet_rollout; one package per function)
        -> platforms, adapters, common, scaling  (never another handler)
    platforms -> adapters, common, scaling       one module per fleet platform
    adapters  -> common, scaling                 the only code in src/ that imports boto3/botocore
    common    -> (nothing of ours)               settings, Powertools
    scaling   -> (nothing of ours)               the pure core: the standard library only
    worker    -> (nothing of ours)               the image copies worker/ alone
    qas.model -> queue_autoscaler.scaling, .common   (not qas.demo, qas.sim, qas.emulator)
    qas.emulator -> (nothing of ours)            the testing package
    the rest of qas, tests -> anything

Nothing in src/ imports qas, worker or tests. The graph is read from the source with `ast`.
"""

from __future__ import annotations

import pytest

from tests.architecture.imports import Module, imported_names, is_stdlib, modules, top_level
from tests.architecture.test_bundle import handler_modules

HANDLERS = frozenset(name.split(".")[1] for name in handler_modules().values())
# Part -> the parts it may import (besides itself). A handler's part is its own package.
ALLOWED: dict[str, frozenset[str]] = {
    "queue_autoscaler": frozenset(),  # the bundle's __init__
    "queue_autoscaler.scaling": frozenset(),
    "queue_autoscaler.common": frozenset(),
    "queue_autoscaler.adapters": frozenset({"queue_autoscaler.common", "queue_autoscaler.scaling"}),
    "queue_autoscaler.platforms": frozenset(
        {"queue_autoscaler.adapters", "queue_autoscaler.common", "queue_autoscaler.scaling"}
    ),
    **{
        f"queue_autoscaler.{handler}": frozenset(
            {
                "queue_autoscaler.platforms",
                "queue_autoscaler.adapters",
                "queue_autoscaler.common",
                "queue_autoscaler.scaling",
            }
        )
        for handler in HANDLERS
    },
    "worker": frozenset(),
    "qas.model": frozenset({"queue_autoscaler.scaling", "queue_autoscaler.common"}),
    "qas.emulator": frozenset(),
}
# Third-party packages a part may import (None: any). The AWS SDK only in the adapters.
THIRD_PARTY: dict[str, frozenset[str] | None] = {
    "queue_autoscaler.scaling": frozenset(),
    "queue_autoscaler.common": frozenset({"aws_lambda_powertools", "pydantic"}),
    "queue_autoscaler.adapters": frozenset({"boto3", "botocore"}),
    "queue_autoscaler.platforms": frozenset({"pydantic"}),  # the fleet settings' model
    **{
        f"queue_autoscaler.{handler}": frozenset({"aws_lambda_powertools", "pydantic"})
        for handler in HANDLERS
    },
    "queue_autoscaler": frozenset(),
    "worker": None,  # its own requirements: tests/architecture/test_worker_image.py
    "qas.model": frozenset(),
    "qas.emulator": None,
}
# Edges the graph forbids that are still there, each with why and who removes it. The test fails
# when one is no longer needed, so the list cannot outlive them.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}
OURS = ("queue_autoscaler", "qas", "worker", "tests")


def part_of(module: str) -> str | None:
    """The most specific part of ALLOWED a module belongs to (None: unconstrained, e.g. qas.cli)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in ALLOWED:
            return prefix
    return None


def _all_modules() -> dict[str, Module]:
    return {**modules("queue_autoscaler"), **modules("qas"), **modules("worker")}


def _ours(name: str) -> bool:
    return top_level(name) in OURS


def _within(name: str, part: str) -> bool:
    return name == part or name.startswith(f"{part}.")


def violations() -> list[tuple[str, str]]:
    """(module, what it imports) for every import the graph does not allow."""
    found = []
    for name, module in sorted(_all_modules().items()):
        part = part_of(name)
        if part is None:
            continue
        allowed_third_party = THIRD_PARTY[part]
        for imported in sorted(imported_names(module)):
            if _ours(imported):
                allowed = {part, *ALLOWED[part]}
                # The bundle's __init__ is run by every import of it; it imports nothing.
                if imported != "queue_autoscaler" and not any(_within(imported, p) for p in allowed):
                    found.append((name, imported))
            elif (
                not is_stdlib(imported)
                and allowed_third_party is not None
                and top_level(imported) not in allowed_third_party
            ):
                found.append((name, imported))
    return found


def _excepted(edge: tuple[str, str]) -> bool:
    return any(edge[0] == module and _within(edge[1], target) for module, target in KNOWN_EXCEPTIONS)


def test_every_part_of_the_bundle_has_a_place_in_the_graph() -> None:
    packages = {name.split(".")[1] for name in modules("queue_autoscaler") if name.count(".") >= 1}
    unplaced = sorted(p for p in packages if f"queue_autoscaler.{p}" not in ALLOWED)
    assert not unplaced, f"add {unplaced} to ALLOWED (and to docs/architecture.md)"


def test_imports_follow_the_allowed_graph() -> None:
    broken = [
        f"{module} imports {imported}"
        for module, imported in violations()
        if not _excepted((module, imported))
    ]
    assert not broken, broken


def test_every_known_exception_is_still_needed() -> None:
    found = violations()
    stale = [edge for edge in KNOWN_EXCEPTIONS if not any(_excepted_by(edge, v) for v in found)]
    assert not stale, f"remove {stale} from KNOWN_EXCEPTIONS: the import is gone"


def _excepted_by(edge: tuple[str, str], violation: tuple[str, str]) -> bool:
    return violation[0] == edge[0] and _within(violation[1], edge[1])


@pytest.mark.parametrize(
    ("module", "imported", "allowed"),
    [
        ("queue_autoscaler.scaling.target", "queue_autoscaler.adapters.fleet", False),
        ("queue_autoscaler.scaling.target", "queue_autoscaler.scaling.backlog", True),
        ("queue_autoscaler.common.settings", "queue_autoscaler.adapters.errors", False),
        ("queue_autoscaler.common.settings", "queue_autoscaler.platforms", False),
        ("queue_autoscaler.platforms.ec2", "queue_autoscaler.adapters.fleet", True),
        ("queue_autoscaler.adapters.fleet", "queue_autoscaler.platforms", False),
        ("queue_autoscaler.metric_publisher.sources", "queue_autoscaler.platforms", True),
        ("queue_autoscaler.adapters.fleet", "queue_autoscaler.common.settings", True),
        ("queue_autoscaler.producer.app", "queue_autoscaler.target_tuner.settings", False),
        ("queue_autoscaler.producer.app", "queue_autoscaler.producer.messages", True),
        ("queue_autoscaler.target_tuner.app", "qas.sim.engine", False),
        ("qas.model.control_plane", "qas.sim.engine", False),
        ("qas.model.control_plane", "queue_autoscaler.scaling.target", True),
        ("worker.consumer", "queue_autoscaler.scaling.target", False),
        ("qas.cli", "qas.sim.engine", True),
    ],
)
def test_the_graph_says_what_it_means(module: str, imported: str, allowed: bool) -> None:
    part = part_of(module)
    permitted = part is None or any(_within(imported, p) for p in {part, *ALLOWED[part]})
    assert permitted is allowed


def test_only_the_adapters_of_the_bundle_may_import_the_aws_sdk() -> None:
    sdk = {"boto3", "botocore"}
    bundle = {part: allowed for part, allowed in THIRD_PARTY.items() if part.startswith("queue_autoscaler")}
    assert all(allowed is not None for allowed in bundle.values())
    assert [part for part, allowed in bundle.items() if sdk & (allowed or set())] == [
        "queue_autoscaler.adapters"
    ]
