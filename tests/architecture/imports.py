"""What a module imports when it runs, read from its source with `ast` (nothing is imported).

Imports under ``if TYPE_CHECKING:`` are left out: they are for mypy and never run (the Lambda bundle
has no mypy_boto3 stubs). Imports inside functions count: they run when the function does.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
# Where each top-level package's source lives (pyproject.toml's package-dir).
ROOTS = {"queue_autoscaler": REPO / "src", "qas": REPO, "worker": REPO}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def modules(package: str) -> dict[str, Module]:
    """Every module of a top-level package (and of its subpackages), by dotted name."""
    root = ROOTS[package]
    found: dict[str, Module] = {}
    for path in sorted((root / package).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = Module(".".join(parts), path)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def imported_names(module: Module) -> set[str]:
    """Every dotted name the module imports at run time: ``import a.b`` gives a.b; ``from a import b``
    gives a and a.b (b may be a submodule); relative imports are made absolute."""
    tree = ast.parse(module.path.read_text(), filename=str(module.path))
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base == "__future__":
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def top_level(name: str) -> str:
    return name.partition(".")[0]


def is_stdlib(name: str) -> bool:
    return top_level(name) in sys.stdlib_module_names


def internal_imports(module: Module, known: dict[str, Module]) -> set[str]:
    """The modules of ``known`` that importing ``module`` runs: what it names, and their parents."""
    found: set[str] = set()
    for name in imported_names(module):
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if prefix in known:
                found.add(prefix)
    found.discard(module.name)
    return found


def closure(start: Iterable[str], known: dict[str, Module]) -> set[str]:
    """Every module of ``known`` that importing ``start`` runs (their packages' __init__ included)."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:end]) for end in range(1, len(parts)) if ".".join(parts[:end]) in known)
        todo.extend(internal_imports(known[name], known))
    return seen


def _requested(requirement: Requirement, extras: set[str]) -> bool:
    marker = requirement.marker
    return marker is None or any(marker.evaluate({"extra": extra}) for extra in extras | {""})


def installed_with(requirements_txt: Path) -> set[str]:
    """The distributions pip installs for a requirements file: its own and theirs (as installed here)."""
    todo = [
        Requirement(line.split("#")[0].strip())
        for line in requirements_txt.read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    found: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        extras = set(requirement.extras)
        todo.extend(
            dependency
            for dependency in map(Requirement, metadata.requires(name) or [])
            if _requested(dependency, extras)
        )
    return found


def distributions_of(import_name: str) -> set[str]:
    """The installed distributions that provide a top-level import name."""
    return {canonicalize_name(dist) for dist in metadata.packages_distributions().get(import_name, [])}
