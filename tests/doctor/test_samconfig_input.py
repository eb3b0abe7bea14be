"""A samconfig.toml that cannot be read is a clear error naming the file and the key, never a traceback
(`qas doctor preflight` reads it before anything else)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qas.doctor import cli
from qas.doctor.config import read_samconfig

GOOD = '[default.deploy.parameters]\nstack_name = "s"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[default.deploy.parameters\nstack_name = "x"\n', "not valid TOML: Expected ']'"),
        ("default = 3\n", "[default] must be a table, got 3"),
        ('[default]\ndeploy = "x"\n', "[default.deploy] must be a table, got 'x'"),
        ("[default.deploy]\nparameters = [1]\n", "[default.deploy.parameters] must be a table, got [1]"),
        (
            GOOD + "parameter_overrides = 5\n",
            '[default.deploy.parameters] parameter_overrides must be "Key=Value" strings, got 5',
        ),
        (
            GOOD + 'parameter_overrides = "A=\\"1 B=2"\n',
            "[default.deploy.parameters] parameter_overrides: No closing quotation",
        ),
        (
            GOOD + 'parameter_overrides = ["=1"]\n',
            "[default.deploy.parameters] parameter_overrides: '=1' is not Key=Value",
        ),
        (
            GOOD + "parameter_overrides = [1]\n",
            '[default.deploy.parameters] parameter_overrides must be "Key=Value" strings, got [1]',
        ),
        (
            '[default.deploy.parameters]\nstack_name = ["s"]\n',
            "[default.deploy.parameters] stack_name must be a string",
        ),
        (
            '[default.global.parameters]\nstack_name = "s"\nregion = 5\n',
            "[default.global.parameters] region must be a string",
        ),
    ],
)
def test_an_unreadable_samconfig_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}: {message}")):
        read_samconfig(path, "default")


def test_invalid_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_bytes(GOOD.encode() + b"# \xff\n")
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}: not UTF-8 text")):
        read_samconfig(path, "default")


def test_a_good_file_still_reads_and_global_and_deploy_merge(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text(
        '[default.global.parameters]\nstack_name = "g"\nregion = "eu-west-1"\n'
        '[default.deploy.parameters]\nstack_name = "d"\nparameter_overrides = "A=1"\n'
    )
    deploy = read_samconfig(path, "default")
    assert (deploy.stack_name, deploy.region, deploy.parameters) == ("d", "eu-west-1", {"A": "1"})


def test_preflight_exits_2_with_the_message_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text("default = 3\n")
    argv = ["preflight", "--config-file", str(path), "--no-sam-validate", "--region", "us-east-1"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"qas doctor preflight: {path}: [default] must be a table, got 3\n"
