"""`qas simulate --json` as other tools call it, and a tiny `qas bench`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qas import cli
from qas.sim import real_traces, traces
from qas.sim.bench import run_bench

SIMULATE = ["--slo-seconds", "300", "--max-capacity", "10", "--boot-seconds", "60", "--concurrency", "2"]
CONTRACT_KEYS = {
    "messages", "completed", "lost", "slo_attainment", "latency_p50_s", "latency_p95_s", "latency_p99_s",
    "instance_seconds", "work_seconds", "cost_ratio", "scale_actions", "peak_capacity",
}  # fmt: skip


@pytest.fixture
def trace_path(tmp_path: Path) -> Path:
    path = tmp_path / "trace.csv"
    traces.write_csv(traces.steady(0.3, 1800, traces.lognormal(10, 0.5), seed=9), path)
    return path


@pytest.mark.slow
def test_simulate_json_through_the_console_script(trace_path: Path) -> None:
    qas = Path(sys.executable).with_name("qas")
    args = [str(qas), "simulate", "--trace", str(trace_path), *SIMULATE, "--policy", "tuned", "--json"]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=60, env=os.environ.copy(), check=False
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary.keys() >= CONTRACT_KEYS
    assert summary["messages"] == len(traces.read_csv(trace_path))
    assert summary["completed"] + summary["lost"] == summary["messages"]
    assert summary["cost_ratio"] == pytest.approx(
        summary["instance_seconds"] / summary["work_seconds"], rel=1e-3
    )


def test_simulate_table_and_errors(trace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--trace", str(trace_path), *SIMULATE, "--policy", "keda-5"]) == 0
    out = capsys.readouterr().out
    assert "slo_attainment" in out and "peak_capacity" in out
    assert (
        cli.main(
            ["simulate", "--trace", str(trace_path.with_name("missing.csv")), *SIMULATE, "--policy", "tuned"]
        )
        == 2
    )
    assert cli.main(["simulate", "--trace", str(trace_path), *SIMULATE, "--policy", "nope"]) == 2


def test_demo_subcommand_is_lazy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # With the demo package unimportable, simulate still works and `qas demo` says why it cannot run.
    monkeypatch.setitem(sys.modules, "qas.demo.cli", None)
    # Another test may have imported the real demo into this process: hide the package's attribute
    # too, or `from qas.demo import cli` finds it there and runs a whole demo.
    if "qas.demo" in sys.modules:
        monkeypatch.delattr(sys.modules["qas.demo"], "cli", raising=False)
    assert cli.main(["demo"]) == 2
    assert "not available" in capsys.readouterr().err


def test_tiny_bench_writes_agreeing_files(tmp_path: Path) -> None:
    report = run_bench(
        tmp_path,
        scenarios=["steady", "burst"],
        policies=["tuned", "static-8"],
        scale=0.05,
        realisms=["ideal", "aws"],
    )
    data = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "results.md").read_text()
    assert [s["name"] for s in data["scenarios"]] == ["steady", "burst"]
    pngs = {p.name for p in tmp_path.glob("*.png")}
    assert pngs == {"steady.png", "burst.png", "steady-aws.png", "burst-aws.png"}
    assert data["goal_met"] == report.goal_met == all(data["goal_met_by_realism"].values())
    for scenario in data["scenarios"]:
        assert set(scenario["realisms"]) == {"ideal", "aws"}
        for name, run in scenario["realisms"].items():
            assert set(run["results"]) == {"tuned", "static-8"}
            tuned = run["results"]["tuned"]
            assert f"| **tuned** | {name} | {tuned['lost']} | {tuned['slo_attainment']:.2%} |" in markdown
            assert scenario["messages"] == tuned["messages"]
            assert isinstance(run["goal"]["met"], bool)
    with pytest.raises(ValueError):
        run_bench(tmp_path, scenarios=["nope"])
    with pytest.raises(ValueError, match="realism"):
        run_bench(tmp_path, scenarios=["steady"], realisms=["perfect"])


def test_the_real_group_reads_the_shared_traces(tmp_path: Path) -> None:
    if not real_traces.TRACES_DIR.is_dir():
        pytest.skip(f"{real_traces.TRACES_DIR} is absent (CI has ../shared beside the clone)")
    specs = {s.name: s for s in real_traces.specs()}
    assert (
        specs["d2_alibaba_diffusion"].fleet.slo_s == 300 and specs["d2_alibaba_diffusion"].fleet.boot_s == 180
    )
    report = run_bench(
        tmp_path, scenarios=["d2_alibaba_diffusion"], policies=["tuned"], scale=0.1, charts=False
    )
    (outcome,) = report.outcomes
    assert outcome.scenario.group == "real"
    whole = len(real_traces.loader(specs["d2_alibaba_diffusion"].path)(1.0))
    assert 0 < outcome.messages < whole


def test_a_missing_traces_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="real traces are not at"):
        real_traces.specs(tmp_path / "nowhere")


def test_simulate_realism_flags_and_keys(trace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["simulate", "--trace", str(trace_path), *SIMULATE, "--policy", "tuned", "--json"]
    assert cli.main([*base, "--realism", "aws", "--seed", "1"]) == 0
    aws = json.loads(capsys.readouterr().out)
    assert aws.keys() >= CONTRACT_KEYS | {"spot_interruptions", "launch_failures", "missed_samples"}
    flags = [
        "--metric-delay-seconds", "20", "--count-lag-seconds", "5", "--count-noise", "0.05",
        "--boot-jitter", "0.3", "--launch-failure-rate", "0.2", "--spot-interruptions-per-hour", "0.5",
        "--missed-sample-rate", "0.1", "--period-seconds", "10", "--seed", "4",
    ]  # fmt: skip
    assert cli.main([*base, *flags]) == 0
    flagged = json.loads(capsys.readouterr().out)
    assert flagged["messages"] == aws["messages"] and flagged["lost"] == 0
    assert flagged["missed_samples"] > 0
    assert cli.main([*base, "--platform", "ECS", "--period-seconds", "10"]) == 2
    assert "EC2 only" in capsys.readouterr().err
    assert cli.main([*base, "--missed-sample-rate", "2"]) == 2
    assert "--missed-sample-rate" in capsys.readouterr().err
