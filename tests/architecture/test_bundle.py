"""The Lambda bundle holds what its functions run and nothing else.

Every function of template.yaml (its ``CodeUri`` and ``Handler``) runs from ``src/``; the modules a
handler imports, transitively, are read from the source with ``ast``. Each module of
``src/queue_autoscaler`` must be in one of those closures (a module no Lambda imports belongs in
``qas/``), and a handler may import only the bundle, the standard library and what
``src/requirements.txt`` installs (``sam build`` puts nothing else next to it).
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

from qas import emulator
from tests.architecture.imports import (
    REPO,
    closure,
    distributions_of,
    imported_names,
    installed_with,
    is_stdlib,
    modules,
    top_level,
)

BUNDLE = "queue_autoscaler"
BUNDLE_ROOT = REPO / "src"
REQUIREMENTS = BUNDLE_ROOT / "requirements.txt"


def _functions() -> dict[str, dict[str, Any]]:
    template = emulator.load_template()
    code_uri = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    return {
        logical_id: {"CodeUri": code_uri, **resource["Properties"]}
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


FUNCTIONS = _functions()


def handler_modules() -> dict[str, str]:
    """Function logical id -> the module its Handler names."""
    return {logical_id: props["Handler"].rpartition(".")[0] for logical_id, props in FUNCTIONS.items()}


def _bundle_closure() -> set[str]:
    return closure(handler_modules().values(), modules(BUNDLE))


def test_the_template_has_functions() -> None:
    assert {"MetricPublisherFunction", "TargetTunerFunction", "ProducerFunction"} <= set(FUNCTIONS)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_runs_a_handler_of_the_bundle(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]
    assert (REPO / props["CodeUri"]).resolve() == BUNDLE_ROOT
    module_name, _, function_name = props["Handler"].rpartition(".")
    module = modules(BUNDLE).get(module_name)
    assert module is not None, f"{logical_id}: {module_name} is not in {BUNDLE_ROOT}"
    defined = {
        node.name for node in ast.parse(module.path.read_text()).body if isinstance(node, ast.FunctionDef)
    }
    assert function_name in defined, f"{logical_id}: {module_name} defines no {function_name}"


def test_every_module_of_the_bundle_is_run_by_a_function() -> None:
    unused = sorted(set(modules(BUNDLE)) - _bundle_closure())
    assert not unused, f"no Lambda imports {unused}: move them to qas/ (or drop them)"


def test_the_closure_follows_imports_through_the_layers() -> None:
    # The tuner reaches the pure core through its settings, and adapters through the factory.
    reached = closure([handler_modules()["TargetTunerFunction"]], modules(BUNDLE))
    assert {"queue_autoscaler.scaling.tuning", "queue_autoscaler.adapters.clients"} <= reached
    assert "queue_autoscaler.producer.app" not in reached


def test_handlers_import_only_the_bundle_and_its_requirements() -> None:
    installed = installed_with(REQUIREMENTS)
    known = modules(BUNDLE)
    outside = sorted(
        f"{name} imports {imported}"
        for name in _bundle_closure()
        for imported in imported_names(known[name])
        if top_level(imported) != BUNDLE
        and not is_stdlib(imported)
        and not distributions_of(top_level(imported)) & installed
    )
    assert not outside, f"not in the bundle nor installed by {REQUIREMENTS.name}: {outside}"
