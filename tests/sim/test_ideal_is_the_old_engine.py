"""`--realism ideal` is the engine as it was before the AWS effects, bit for bit.

The old engine is taken from git at the commit before they came and run in its own process on the
same small traces (tests/sim/engine_cases.py); every policy's summary must be equal.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.sim import engine_cases

BEFORE_REALISM = "31f553653696e73e3b1d684015b795ed1e534405"
ROOT = Path(__file__).resolve().parents[2]


def _old_tree(tmp_path: Path) -> Path:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git history of the repository")
    done = subprocess.run(
        [git, "-C", str(ROOT), "archive", BEFORE_REALISM, "qas", "src"], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"commit {BEFORE_REALISM[:7]} is not in this clone (shallow?): {done.stderr.decode()}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(tmp_path / "old", filter="data")
    return tmp_path / "old"


@pytest.mark.slow
def test_ideal_gives_the_old_engines_numbers(tmp_path: Path) -> None:
    old = _old_tree(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{old}{os.pathsep}{old / 'src'}"}
    script = Path(engine_cases.__file__)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=old,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before = json.loads(done.stdout)
    now = engine_cases.summaries()
    assert set(now) == set(before) and len(now) == 4 * 6
    for key, summary in now.items():
        if key.endswith("/tuned"):
            continue  # the tuning policy itself changed after this commit (issue 10); the engine did not
        new_keys = {"spot_interruptions", "launch_failures", "missed_samples"}
        assert summary.keys() - before[key].keys() == new_keys
        assert {k: v for k, v in summary.items() if k not in new_keys} == before[key], key
