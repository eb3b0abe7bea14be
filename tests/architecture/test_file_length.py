"""Small modules with one job: a Python file over 500 lines says why at its top, on a line of its
first five starting ``# Long file:`` and a reason."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.imports import REPO

LIMIT = 500
FOLDERS = ("src", "qas", "worker", "lint", "benchmarks", "tests")
MARKER = "# Long file:"


def reason(lines: list[str]) -> str | None:
    """The reason a long file gives at its top, if any."""
    for line in lines[:5]:
        if line.startswith(MARKER) and line[len(MARKER) :].strip():
            return line[len(MARKER) :].strip()
    return None


def _python_files() -> list[Path]:
    return sorted(
        path
        for folder in FOLDERS
        for path in (REPO / folder).rglob("*.py")
        if "__pycache__" not in path.parts and ".egg-info" not in str(path)
    )


def test_every_long_file_says_why() -> None:
    unexplained = []
    for path in _python_files():
        lines = path.read_text().splitlines()
        if len(lines) > LIMIT and reason(lines) is None:
            unexplained.append(f"{path.relative_to(REPO)} ({len(lines)} lines)")
    assert not unexplained, f"split by job, or start with '{MARKER} <why>': {unexplained}"


def test_the_reason_must_be_written_at_the_top() -> None:
    assert reason(["# Long file: one state machine, its states read best together", '"""Doc."""']) == (
        "one state machine, its states read best together"
    )
    assert reason(["# Long file:", '"""Doc."""']) is None
    assert reason(['"""Doc."""', "", "", "", "", "# Long file: too late"]) is None


def test_the_folders_exist() -> None:
    assert all((REPO / folder).is_dir() for folder in FOLDERS)
    assert len(_python_files()) > 100
