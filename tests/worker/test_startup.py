"""`python -m worker` refuses bad settings with exit code 2 and one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.worker.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

QUEUE = "http://127.0.0.1:9/123456789012/work"


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({}, "QUEUE_URL"),
        ({"QUEUE_URL": QUEUE, "WORKER_CONCURRENCY": "many"}, "WORKER_CONCURRENCY"),
        ({"QUEUE_URL": QUEUE, "WORKER_HANDLER": "no_such_module:run"}, "WORKER_HANDLER"),
        ({"QUEUE_URL": QUEUE, "WORKER_HANDLER": "worker.handlers:no_such_function"}, "WORKER_HANDLER"),
        ({"QUEUE_URL": QUEUE, "WORKER_PLATFORM": "ECS"}, "ECS_AGENT_URI"),
        ({"QUEUE_URL": QUEUE, "WORKER_COMMAND": "/no/such/transcriber --fast"}, "WORKER_COMMAND"),
    ],
)
def test_bad_settings_exit_2_naming_the_variable(settings, variable):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "QUEUE_URL", "ECS_AGENT"))}
    env.update(settings)
    result = subprocess.run(
        [sys.executable, "-m", "worker"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"worker: invalid setting {variable}:")
    assert result.stdout == ""
