"""`qas plan`'s inputs: every bad flag, combination or stack parameter is a clear error naming it,
before anything is generated or simulated."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from qas import cli, emulator
from qas.model.control_plane import Platform
from qas.plan import frontier, history, recommend, workloads
from qas.plan.prices import MAX_PRICE_PER_HOUR, prices_for
from qas.plan.recommend import PlanRequest
from qas.sim import traces

WORKLOAD = ["--rate-per-minute", "30", "--duration-seconds", "20", "--hours", "1"]
FLEET = ["--slo-seconds", "300", "--boot-seconds", "60", "--concurrency", "2"]


def _run(argv: list[str]) -> int:
    try:
        return cli.main(["plan", *argv])
    except SystemExit as exc:  # the old main() let argparse's exit through
        return int(exc.code or 0)


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks come first: generating the load or simulating it is a failure here."""

    def forbidden(*_: Any, **__: Any) -> Any:
        raise AssertionError("generated or simulated before the input was checked")

    monkeypatch.setattr(traces, "poisson", forbidden)
    monkeypatch.setattr(recommend, "simulate", forbidden)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--slo-seconds", "inf"),
        ("--slo-seconds", "nan"),
        ("--slo-seconds", "0.5"),  # the template's LatencySloSeconds MinValue is 1
        ("--slo-seconds", "1209601"),
        ("--boot-seconds", "nan"),
        ("--boot-seconds", "-1"),
        ("--concurrency", "0"),
        ("--concurrency", "65"),
        ("--max-capacity", "0"),
        ("--max-capacity", "1001"),
        ("--price-per-hour", "-1"),
        ("--price-per-hour", "0"),
        ("--price-per-hour", "nan"),
        ("--rate-per-minute", "inf"),
        ("--rate-per-minute", "0"),
        ("--duration-seconds", "0"),
        ("--duration-seconds", "604801"),
        ("--duration-sigma", "-0.1"),
        ("--duration-sigma", "3.5"),
        ("--hours", "0"),
        ("--hours", "10921"),  # past 455 days
    ],
)
def test_a_bad_number_is_a_usage_error_naming_the_flag(
    flag: str, value: str, nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*WORKLOAD, *FLEET]
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    assert _run(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"argument {flag}: " in err and "Traceback" not in err


def test_days_is_checked_by_argparse_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boto3, "client", lambda *_, **__: pytest.fail("an AWS client was made"))
    for days in ("0", "456", "1.5"):
        assert _run(["--stack", "s", "--days", days]) == 2
        assert "argument --days: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--duration-seconds", "20"], "--duration-seconds"),
        (["--duration-sigma", "0"], "--duration-sigma"),
        (["--hours", "2"], "--hours"),
        (["--days", "3"], "--days"),
    ],
)
def test_a_flag_the_source_ignores_is_rejected(
    extra: list[str], named: str, tmp_path: Path, nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,processing_s\n0,10\n")
    assert _run(["--trace", str(path), *FLEET, *extra]) == 2
    err = capsys.readouterr().err
    assert f"qas plan: {named} does not apply to --trace" in err


def test_rate_flags_with_a_stack_are_rejected_before_any_aws_call(
    nothing_runs: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boto3, "client", lambda *_, **__: pytest.fail("an AWS client was made"))
    assert _run(["--stack", "s", "--hours", "2"]) == 2
    assert "--hours does not apply to --stack" in capsys.readouterr().err


def test_days_goes_with_the_stack_only(nothing_runs: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([*WORKLOAD, *FLEET, "--days", "3"]) == 2
    assert "--days does not apply to --rate-per-minute" in capsys.readouterr().err


def test_a_load_past_the_template_ceiling_says_so_at_once(
    nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--rate-per-minute", "100000", "--duration-seconds", "30", *FLEET]
    assert _run([*argv, "--concurrency", "1"]) == 2
    err = capsys.readouterr().err
    assert "50,000 worker slots busy on average" in err
    assert "50,000 instances at --concurrency 1" in err
    assert "MaxCapacity's ceiling of 1,000 (the template's maximum)" in err


def test_a_load_past_your_max_capacity_says_so_at_once(
    nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # 60 messages a minute of 50 s on 2 slots: 25 instances' worth, against a limit of 20.
    argv = ["--rate-per-minute", "60", "--duration-seconds", "50", *FLEET, "--max-capacity", "20"]
    assert _run(argv) == 2
    assert "25 instances at --concurrency 2, past --max-capacity 20" in capsys.readouterr().err


def test_a_load_of_exactly_the_ceiling_is_planned() -> None:
    """The boundary: 1,200 messages a minute of 1 s keep 20 slots busy, 20 instances at 1 slot."""
    request = PlanRequest(slo_s=300, boot_s=60, concurrency=1, max_capacity_limit=20)
    recommend.check_steady_load(1200, 1.0, request)
    with pytest.raises(ValueError, match=r"20\.02 instances at --concurrency 1, past --max-capacity 20"):
        recommend.check_steady_load(1201, 1.0, request)


def test_too_many_messages_says_so_before_generating(
    nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--rate-per-minute", "10000", "--duration-seconds", "0.5", "--hours", "6", *FLEET]
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert "3,600,000 messages" in err and f"{traces.MAX_MESSAGES:,}" in err and "--hours" in err


def test_help_says_which_flags_are_required() -> None:
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    sections = sub.choices["plan"].format_help().split("\n\n")
    workload = next(s for s in sections if s.startswith("workload (one of them is required)"))
    assert all(flag in workload for flag in ("--trace", "--rate-per-minute", "--stack"))
    fleet = next(s for s in sections if s.startswith("the fleet (required with --trace or --rate-per-minute"))
    assert all(flag in fleet for flag in ("--slo-seconds", "--boot-seconds", "--concurrency"))
    steady = next(s for s in sections if s.startswith("with --rate-per-minute"))
    assert "--duration-seconds" in steady and "(required)" in steady


def test_the_request_names_the_setting_when_used_as_a_library() -> None:
    for bad, flag in (
        ({"slo_s": float("inf")}, "--slo-seconds"),
        ({"slo_s": float("nan")}, "--slo-seconds"),
        ({"boot_s": float("nan")}, "--boot-seconds"),
        ({"concurrency": 65}, "--concurrency"),
    ):
        with pytest.raises(ValueError, match=flag):
            dataclasses.replace(PlanRequest(slo_s=300.0, boot_s=60.0, concurrency=1), **bad)


def test_the_bounds_are_the_templates() -> None:
    parameters = emulator.load_template()["Parameters"]
    assert int(parameters["MaxCapacity"]["MaxValue"]) == recommend.MAX_CAPACITY_CEILING
    assert int(parameters["WorkerConcurrency"]["MaxValue"]) == recommend.MAX_CONCURRENCY
    assert float(parameters["LatencySloSeconds"]["MinValue"]) == recommend.MIN_SLO_S
    shutdown = parameters["ShutdownAfterMinutes"]
    assert (int(shutdown["MinValue"]), int(shutdown["MaxValue"])) == recommend.SHUTDOWN_MINUTES_RANGE
    warm = parameters["KeepWarmMinutes"]
    assert (int(warm["MinValue"]), int(warm["MaxValue"])) == recommend.KEEP_WARM_MINUTES_RANGE
    assert int(parameters["WarmPoolSize"]["MaxValue"]) == frontier.MAX_POOL_SIZE
    assert history.MAX_DAYS == traces.MAX_SPAN_DAYS


def test_a_stack_parameter_that_is_not_a_number_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    template = {
        "Parameters": {"LatencySloSeconds": {"Type": "String"}},
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "QueueUrl": {"Value": {"Ref": "Q"}},
            "FleetName": {"Value": "fleet"},
        },
    }
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        cloudformation.create_stack(
            StackName="odd",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "LatencySloSeconds", "ParameterValue": "soon"}],
        )
        with pytest.raises(
            ValueError, match=r"^--stack odd: parameter LatencySloSeconds is 'soon', not a number$"
        ):
            history.describe_stack(cloudformation, "odd")


def test_a_workload_without_work_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by tests/properties: jobs of 0 s made the tuner's formula fail deep inside."""
    path = tmp_path / "zero.csv"
    path.write_text("arrival_s,processing_s\n0,0\n60,0\n")
    assert _run(["--trace", str(path), *FLEET]) == 2
    assert (
        capsys.readouterr().err
        == "qas plan: every message takes 0 s to process: there is no work to plan for\n"
    )


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        ((math.inf, 20.0, 0.5, 1.0), "--rate-per-minute"),
        ((math.nan, 20.0, 0.5, 1.0), "--rate-per-minute"),
        ((30.0, 0.0, 0.5, 1.0), "--duration-seconds"),
        ((30.0, traces.MAX_PROCESSING_S * 1.01, 0.5, 1.0), "--duration-seconds"),
        ((30.0, 20.0, -0.1, 1.0), "--duration-sigma"),
        ((30.0, 20.0, workloads.MAX_SIGMA + 0.1, 1.0), "--duration-sigma"),
        ((30.0, 20.0, 0.5, 0.0), "--hours"),
        ((30.0, 20.0, 0.5, traces.MAX_SPAN_DAYS * 24 + 1), "--hours"),
        ((traces.MAX_MESSAGES / 60 + 1, 0.01, 0.5, 1.0), "--hours"),  # one message too many
    ],
)
def test_the_steady_generator_checks_its_arguments_as_a_library(
    args: tuple[float, float, float, float], flag: str, nothing_runs: None
) -> None:
    with pytest.raises(ValueError, match=f"{flag}"):
        workloads.steady(*args)


def test_a_custom_price_is_checked_as_a_library() -> None:
    assert prices_for(Platform.EC2, MAX_PRICE_PER_HOUR)[0].per_hour == MAX_PRICE_PER_HOUR
    for bad in (0.0, -1.0, math.nan, MAX_PRICE_PER_HOUR * 1.01):
        with pytest.raises(ValueError, match="--price-per-hour"):
            prices_for(Platform.EC2, bad)
