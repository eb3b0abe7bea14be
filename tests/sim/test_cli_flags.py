"""Every numeric flag of `qas simulate`, `bench` and `trace`: a bad value is a usage error (exit 2)
naming the flag, before anything is read or simulated; the bounds themselves are accepted."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from qas import cli
from qas.sim.bench import SCENARIOS

FLEET = ["--slo-seconds", "300", "--max-capacity", "5", "--boot-seconds", "60", "--concurrency", "1"]


def _run(argv: list[str]) -> int:
    """`qas ...` as the console script runs it: an exit code, whether argparse or the command ends it."""
    try:
        return cli.main(argv)
    except SystemExit as exc:  # main() returns argparse's code; the old one let SystemExit through
        return int(exc.code or 0)


@pytest.fixture
def trace_path(tmp_path: Path) -> Path:
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,processing_s\n0,10\n30,10\n")
    return path


SIMULATE_BAD = [
    ("--slo-seconds", "inf"),
    ("--slo-seconds", "nan"),
    ("--slo-seconds", "0"),
    ("--slo-seconds", "1209601"),  # past SQS's 14-day retention
    ("--max-capacity", "0"),
    ("--max-capacity", "10001"),
    ("--max-capacity", "2.5"),
    ("--boot-seconds", "-1"),
    ("--boot-seconds", "inf"),
    ("--boot-seconds", "86401"),
    ("--concurrency", "0"),
    ("--concurrency", "65"),
    ("--shutdown-minutes", "0"),
    ("--shutdown-minutes", "61"),
    ("--bootstrap-capacity", "0"),
    ("--bootstrap-capacity", "10001"),
    ("--bootstrap-steps", "2,x"),
    ("--bootstrap-steps", "2,0"),
    ("--bootstrap-steps", "2,10001"),
    ("--lead-time-weight", "nan"),
    ("--lead-time-weight", "1.5"),
    ("--lead-time-weight", "-0.1"),
    ("--instance-warmup-seconds", "inf"),
    ("--instance-warmup-seconds", "-1"),
    ("--period-seconds", "20"),
    ("--period-seconds", "nan"),
    ("--metric-delay-seconds", "inf"),
    ("--metric-delay-seconds", "3601"),
    ("--count-lag-seconds", "nan"),
    ("--count-lag-seconds", "-1"),
    ("--count-noise", "1.5"),
    ("--boot-jitter", "1e300"),
    ("--boot-jitter", "2.5"),
    ("--launch-failure-rate", "1"),
    ("--spot-interruptions-per-hour", "inf"),
    ("--spot-interruptions-per-hour", "61"),
    ("--missed-sample-rate", "nan"),
    ("--seed", "1.5"),
]


@pytest.mark.parametrize(("flag", "value"), SIMULATE_BAD)
def test_simulate_rejects_a_bad_number_naming_the_flag(
    trace_path: Path, flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--trace", str(trace_path), "--policy", "tuned", *FLEET, "--json", flag, value]
    assert _run(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing simulated
    assert f"argument {flag}: " in err and value in err and "Traceback" not in err


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices[name]
    return parser


def _parsed(argv: list[str]) -> argparse.Namespace:
    return cli.build_parser().parse_args(argv)


def test_the_bounds_themselves_are_accepted(trace_path: Path) -> None:
    base = ["simulate", "--trace", str(trace_path), "--policy", "tuned", "--realism", "aws"]
    args = _parsed(
        [
            *base,
            *("--slo-seconds", "1209600", "--max-capacity", "10000", "--boot-seconds", "86400"),
            *("--concurrency", "64", "--shutdown-minutes", "60", "--bootstrap-capacity", "10000"),
            *("--bootstrap-steps", "1,10000", "--lead-time-weight", "1", "--instance-warmup-seconds", "0"),
            *("--metric-delay-seconds", "3600", "--count-lag-seconds", "3600", "--count-noise", "1"),
            *("--boot-jitter", "2", "--launch-failure-rate", "0.99", "--spot-interruptions-per-hour", "60"),
            *("--missed-sample-rate", "0", "--period-seconds", "10"),
        ]
    )
    assert (args.slo_seconds, args.max_capacity, args.boot_seconds) == (1_209_600, 10_000, 86_400)
    assert (args.concurrency, args.shutdown_minutes, args.bootstrap_steps) == (64, 60, (1, 10_000))
    assert (args.lead_time_weight, args.boot_jitter, args.period_seconds) == (1.0, 2.0, 10)
    low = _parsed(
        [*base, "--slo-seconds", "0.5", "--max-capacity", "1", "--boot-seconds", "0", "--concurrency", "1"]
    )
    assert (low.slo_seconds, low.max_capacity, low.boot_seconds) == (0.5, 1, 0.0)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["bench", "--scale", "inf"], "--scale"),
        (["bench", "--scale", "0"], "--scale"),
        (["bench", "--scale", "10.5"], "--scale"),
        (["bench", "--seed", "nan"], "--seed"),
        (["trace", "steady", "--out", "x.csv", "--scale", "nan"], "--scale"),
        (["trace", "steady", "--out", "x.csv", "--scale", "11"], "--scale"),
    ],
)
def test_bench_and_trace_reject_a_bad_number_at_once(
    argv: list[str],
    flag: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = ["--out", "bench-out", "--groups", "synthetic", "--no-charts"] if argv[0] == "bench" else []
    assert _run([*argv, *out]) == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: " in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_main_returns_the_usage_code_instead_of_raising(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--policy", "nope"]) == 2
    assert "usage: qas simulate" in capsys.readouterr().err
    assert cli.main(["trace", "--help"]) == 0


def test_simulate_help_marks_the_required_flags() -> None:
    text = _subparser("simulate").format_help()
    required = text.split("required:", 1)[1].split("\n\n", 1)[0]
    for flag in ("--trace", "--policy", "--slo-seconds", "--max-capacity", "--boot-seconds", "--concurrency"):
        assert flag in required, flag
    assert "--shutdown-minutes" not in required


def test_trace_help_lists_every_scenario_with_what_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["trace", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name, scenario in SCENARIOS.items():
        assert f"{name}: {' '.join(scenario.description.split())}" in text, name
