"""`qas demo` checks every flag before it deploys anything: a clear error naming the flag, exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from qas.demo import cli
from qas.demo.lambdas import rate_minutes
from qas.emulator import load_template


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def no_deploy(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records a deploy instead of starting one: the checks must stop the run before it."""
    deployed: list[object] = []

    def deploy(cfg: object) -> object:
        deployed.append(cfg)
        raise AssertionError("deployed before the flags were checked")

    monkeypatch.setattr(cli, "deploy", deploy)
    return deployed


def test_an_unwritable_report_dir_stops_the_demo_before_it_deploys(
    tmp_path: Path, no_deploy: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a report dir below a file: no one can create it, not even root
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    code = cli.run(parse("--report-dir", str(blocker / "reports")))

    err = capsys.readouterr().err
    assert code == 2 and no_deploy == []
    assert err.startswith(f"qas demo: --report-dir {blocker / 'reports'}: cannot write reports there")
    assert "Traceback" not in err


def test_a_report_file_that_cannot_be_replaced_is_refused(
    tmp_path: Path, no_deploy: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "summary.json").mkdir()  # a directory where the summary goes

    code = cli.run(parse("--report-dir", str(tmp_path)))

    assert code == 2 and no_deploy == []
    assert "--report-dir" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--seconds-per-minute", "nan"], "--seconds-per-minute"),
        (["--seconds-per-minute", "inf"], "--seconds-per-minute"),
        (["--seconds-per-minute", "1"], "--seconds-per-minute"),
        (["--seconds-per-minute", "61"], "--seconds-per-minute"),
        (["--slo-seconds", "0"], "--slo-seconds"),
        (["--slo-seconds", "nan"], "--slo-seconds"),
        # Positive, but below the template's LatencySloSeconds MinValue (1)
        (["--slo-seconds", "0.5"], "--slo-seconds"),
        (["--boot-minutes", "-1"], "--boot-minutes"),
        (["--boot-minutes", "nan"], "--boot-minutes"),
        (["--missed-sample-rate", "1"], "--missed-sample-rate"),
        (["--alarm-delay-minutes", "-1"], "--alarm-delay-minutes"),
        (["--tuner-every", "0"], "--tuner-every"),
        (["--duration", "0"], "--duration"),
        (["--keep-warm", "0"], "--keep-warm"),
        (["--keep-warm", "121"], "--keep-warm"),
    ],
)
def test_bad_values_stop_the_demo_before_it_deploys_naming_the_flag(
    argv: list[str], flag: str, tmp_path: Path, no_deploy: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.run(parse(*argv, "--report-dir", str(tmp_path)))

    err = capsys.readouterr().err
    assert code == 2 and no_deploy == [], err
    assert err.startswith(f"qas demo: {flag}"), err
    assert "Traceback" not in err


def test_good_flags_pass_the_checks(tmp_path: Path) -> None:
    cfg = cli.config_from(
        parse("--quick", "--slo-seconds", "1", "--report-dir", str(tmp_path / "new" / "dir"))
    )

    cli.check_stack_parameters(cfg)
    cli.check_report_dir(cfg.report_dir)

    assert (tmp_path / "new" / "dir" / "logs").is_dir()
    assert list((tmp_path / "new" / "dir").iterdir()) == [tmp_path / "new" / "dir" / "logs"]


def test_help_takes_the_tuners_schedule_from_the_template() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    schedule = load_template()["Parameters"]["TunerSchedule"]["Default"]

    text = " ".join(parser.format_help().split())

    assert f"instead of on its rule ({schedule}: every {rate_minutes(schedule)} demo min)" in text
    assert "hourly" not in text


def test_a_derived_parameter_the_template_refuses_names_the_flag_and_the_rule() -> None:
    cfg = cli.config_from(parse("--slo-seconds", "0.5"))

    with pytest.raises(
        ValueError, match=r"^--slo-seconds: the template needs LatencySloSeconds at least 1, "
    ):
        cli.check_stack_parameters(cfg)
