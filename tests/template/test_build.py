"""`sam build` of the template: the real bundle, built with python3.13 (pyenv) into a temporary dir.

It pip-installs src/requirements.txt from PyPI (in a subprocess; the suite's loopback guard is
in-process only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qas import emulator

pytestmark = pytest.mark.slow

FUNCTIONS = {
    "MetricPublisherFunction": "metric_publisher",
    "TargetTunerFunction": "target_tuner",
    "ProducerFunction": "producer",
    "FleetRolloutFunction": "fleet_rollout",
}


def _python313_path() -> str:
    """PATH with pyenv's shims first, where a python3.13 lives on these machines."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    return os.pathsep.join([str(pyenv_root / "shims"), os.environ.get("PATH", "")])


def test_sam_build_bundles_every_handler(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": _python313_path(),
        "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.13.0"),
        "SAM_CLI_TELEMETRY": "0",
    }
    if shutil.which("python3.13", path=env["PATH"]) is None:
        pytest.fail("sam build needs a python3.13 on PATH (pyenv install 3.13.0)")
    build_dir = tmp_path / "build"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "sam"),
            *("build", "--build-dir", str(build_dir), "--cache-dir", str(tmp_path / "cache")),
        ],
        cwd=emulator.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Build Succeeded" in result.stdout + result.stderr

    for function, package in FUNCTIONS.items():
        bundle = build_dir / function
        assert (bundle / "queue_autoscaler" / package / "app.py").is_file()
        # The shared modules and the dependencies from src/requirements.txt are in every bundle.
        assert (bundle / "queue_autoscaler" / "scaling" / "backlog.py").is_file()
        assert (bundle / "aws_lambda_powertools").is_dir()
        assert (bundle / "pydantic").is_dir()
        # arm64 functions need aarch64 wheels of the compiled dependencies.
        (core,) = (bundle / "pydantic_core").glob("_pydantic_core*.so")
        assert "aarch64" in core.name

    class _Loader(yaml.SafeLoader):
        pass

    # The built template keeps the intrinsic tags; read it as plain data.
    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    built = yaml.load((build_dir / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506
    for function in FUNCTIONS:
        assert built["Resources"][function]["Properties"]["CodeUri"] == function
