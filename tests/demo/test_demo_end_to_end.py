"""`qas demo --quick` end to end: the real template on moto, real Lambda handlers, real workers.

In-process (so tests/conftest.py's loopback guard also covers the demo's own clients), plus one
run as a subprocess interrupted with SIGINT to check that nothing it started survives.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qas.demo.cli import add_arguments, run

REPO = Path(__file__).resolve().parents[2]


def _demo_processes(report_dir: Path) -> list[int]:
    """Live processes started by a demo writing to report_dir: workers (their completions file is
    in their environment) and Lambda runtimes and workers (their logs are open files there)."""
    marker = str(report_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            open_files = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        if state != "Z" and (marker.encode() in environ or any(f.startswith(marker) for f in open_files)):
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_quick_demo_scales_out_and_back_to_zero_and_loses_nothing(platform, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--quick", "--platform", platform, "--report-dir", str(tmp_path)])

    code = run(args)

    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0, printed
    # The load arrived and every message is accounted for, none in the DLQ (no malformed load).
    assert summary["sent"] > 0
    assert summary["processed"] == summary["sent"]
    assert (summary["dlq"], summary["still_queued"], summary["lost"]) == (0, 0, 0)
    assert not summary["lambda_failures"]
    # Scaled out past the first instance (by the bootstrap steps when the burst is already waiting at
    # the first datapoint, else by target tracking or the fast lane), then back to zero: by the
    # shutdown alarm,
    # or by target tracking when a slow (loaded) run has put its low alarm in ALARM before the queue
    # empties (docs/demo.md). Which comes first depends on the machine's speed.
    sources = [(a["source"], a["previous"], a["capacity"]) for a in summary["scaling_actions"]]
    scaling_out = ("bootstrap", "target-tracking", "fast-lane")
    assert any(src in scaling_out and new > max(prev, 1) for src, prev, new in sources), sources
    assert sources[-1][0] in ("shutdown", "target-tracking") and sources[-1][2] == 0, sources
    assert summary["peak_capacity"] > 1
    assert summary["fleet_back_to_zero"] and summary["final_desired"] == summary["final_running"] == 0
    assert summary["timeline"][-1]["desired"] == 0
    # The real publisher read the target in force and published ScaleOutPressure for the fast lane.
    pressures = [(r["backlog_per_instance"], r["scale_out_pressure"]) for r in summary["timeline"]]
    assert any(p is not None and p > 0 for _, p in pressures), pressures
    assert all(p is None or (p > 0) == (b > 0) for b, p in pressures if b is not None), pressures
    # ... and ScaleInPressure for the scale-in lane with it, never 0 (at least 1 / desired).
    scale_in = [(r["scale_out_pressure"], r["scale_in_pressure"]) for r in summary["timeline"]]
    assert all((out is None) == (p is None) and (p is None or p > 0) for out, p in scale_in), scale_in
    assert summary["latency"]["p50_s"] <= summary["latency"]["p95_s"] <= summary["latency"]["max_s"]
    # The report files exist; the chart is a PNG.
    assert (tmp_path / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The printed summary says what summary.json says.
    assert (
        f"messages: sent {summary['sent']}, processed {summary['processed']}, DLQ {summary['dlq']}, "
        f"still queued {summary['still_queued']}, lost {summary['lost']}"
    ) in printed
    # ... on the demo clock (latency in demo minutes), every action with the reason for it.
    latency, spm = summary["latency"], summary["seconds_per_minute"]
    assert f"p50 {latency['p50_s'] / spm:.1f}, p95 {latency['p95_s'] / spm:.1f}" in printed
    assert f"{summary['capacity_minutes']:.1f} instance-minutes" in printed
    for action in summary["scaling_actions"]:
        assert f"{action['source']:<15} {action['previous']} -> {action['capacity']}" in printed
        said = f"[min {action['minute']:5.1f}]   {action['source']}: desired {action['previous']} -> "
        because = printed.split(said, 1)[1].splitlines()[1]
        assert because.startswith(f"[min {action['minute']:5.1f}]     why: ") and "needs" in because
    # The run records what made it (settings, model, transcript) for docs/demo.md's sample.
    assert summary["transcript"][0].startswith("qas demo: deploying template.yaml")
    assert summary["settings"]["platform"] == platform and summary["control"]["platform"] == platform
    assert _demo_processes(tmp_path) == []


@pytest.mark.slow
def test_ctrl_c_stops_every_process_the_demo_started(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "qas.cli", "demo", "--quick", "--report-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # wait until a worker runs: the most processes are alive then
            lines.append(line)
            if "worker started" in line:
                break
        assert _demo_processes(tmp_path), "".join(lines)
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest
    # Reaped by the demo before it exited: give the kernel a moment to drop the /proc entries.
    deadline = time.monotonic() + 5
    while _demo_processes(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _demo_processes(tmp_path) == []
