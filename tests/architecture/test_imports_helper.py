"""The import reader the boundary tests rely on, on small sources of its own."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.imports import Module, closure, imported_names


def _module(tmp_path: Path, name: str, source: str, *, package: bool = False) -> Module:
    path = tmp_path / (f"{name.replace('.', '/')}/__init__.py" if package else f"{name.replace('.', '/')}.py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return Module(name, path)


def test_type_checking_imports_do_not_count_but_function_imports_do(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        "pkg.mod",
        "from typing import TYPE_CHECKING\n"
        "import os.path\n"
        "if TYPE_CHECKING:\n    import mypy_boto3_sqs\nelse:\n    import json\n"
        "def f():\n    import botocore\n",
    )
    assert imported_names(module) == {"typing", "typing.TYPE_CHECKING", "os.path", "json", "botocore"}


def test_relative_imports_are_made_absolute(tmp_path: Path) -> None:
    module = _module(tmp_path, "pkg.sub.mod", "from . import sibling\nfrom ..other import thing\n")
    package = _module(tmp_path, "pkg.sub", "from .mod import x\n", package=True)
    assert imported_names(module) == {"pkg.sub", "pkg.sub.sibling", "pkg.other", "pkg.other.thing"}
    assert imported_names(package) == {"pkg.sub.mod", "pkg.sub.mod.x"}


def test_the_closure_takes_imports_and_their_packages(tmp_path: Path) -> None:
    known = {
        "pkg": _module(tmp_path, "pkg", "", package=True),
        "pkg.a": _module(tmp_path, "pkg.a", "from pkg.b import thing\n"),
        "pkg.b": _module(tmp_path, "pkg.b", "import pkg.c.d\n"),
        "pkg.c": _module(tmp_path, "pkg.c", "", package=True),
        "pkg.c.d": _module(tmp_path, "pkg.c.d", ""),
        "pkg.unused": _module(tmp_path, "pkg.unused", "import pkg.a\n"),
    }
    assert closure(["pkg.a"], known) == {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.c.d"}
