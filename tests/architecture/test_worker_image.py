"""The worker image copies worker/ and installs worker/requirements.txt: nothing else may be imported."""

from __future__ import annotations

from tests.architecture.imports import (
    REPO,
    distributions_of,
    imported_names,
    installed_with,
    is_stdlib,
    modules,
    top_level,
)


def test_the_worker_imports_only_itself_and_its_requirements() -> None:
    installed = installed_with(REPO / "worker" / "requirements.txt")
    outside = sorted(
        f"{name} imports {imported}"
        for name, module in modules("worker").items()
        for imported in imported_names(module)
        if top_level(imported) != "worker"
        and not is_stdlib(imported)
        and not distributions_of(top_level(imported)) & installed
    )
    assert not outside, outside


def test_the_image_copies_only_the_worker() -> None:
    copies = [
        line.split()
        for line in (REPO / "worker" / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY")
    ]
    assert copies
    assert all(source.startswith("worker/") for *_, source, _ in copies), copies
