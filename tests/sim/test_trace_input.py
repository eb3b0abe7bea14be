"""Bad trace files: each is rejected before any simulation, naming the file, the row and the bound."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qas import cli
from qas.sim import traces
from qas.sim.traces import MAX_PROCESSING_S, MAX_SPAN_S, Trace

SIMULATE = ["--slo-seconds", "300", "--max-capacity", "5", "--boot-seconds", "60", "--concurrency", "1"]


def _file(tmp_path: Path, body: str | bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    data = body.encode() if isinstance(body, str) else body
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        # A bad value on a row after the first: only the first arrival used to be checked.
        ("0,10\n5,10\ninf,10\n", 4, "arrival_s must be a finite number >= 0, got inf"),
        ("0,10\nnan,10\n", 3, "arrival_s must be a finite number >= 0, got nan"),
        ("0,10\n-1,10\n", 3, "arrival_s must be a finite number >= 0, got -1.0"),
        ("0,10\n1e300,10\n", 3, "arrival_s 1e+300 s is past the longest trace, 455 days"),
        ("0,10\n5,inf\n", 3, "processing_s must be a finite number >= 0, got inf"),
        ("0,10\n5,1e300\n", 3, "processing_s 1e+300 s is longer than a week"),
        ("0,10\n5,10,7\n", 3, "expected 2 values (arrival_s,processing_s), got 3"),
        ("0,10\n5\n", 3, "expected 2 values (arrival_s,processing_s), got 1"),
        ("0,10\n5,ten\n", 3, "processing_s must be a number, got 'ten'"),
    ],
)
def test_a_bad_row_names_the_file_the_row_and_the_bound(
    tmp_path: Path, rows: str, line: int, message: str
) -> None:
    path = _file(tmp_path, "arrival_s,processing_s\n" + rows)
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}:{line}: {message}")):
        traces.read_csv(path)


def test_fifo_rows_take_exactly_three_values(tmp_path: Path) -> None:
    header = "arrival_s,processing_s,group\n"
    assert traces.read_csv(_file(tmp_path, header + "0,1,a\n")).group == ("a",)
    for row, got in (("0,1,a,b\n", 4), ("0,1\n", 2)):
        path = _file(tmp_path, header + row)
        with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:2: expected 3 values .*, got {got}$"):
            traces.read_csv(path)
    path = _file(tmp_path, header + "0,1, \n")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:2: the group is empty$"):
        traces.read_csv(path)


def test_the_bounds_themselves_are_accepted(tmp_path: Path) -> None:
    path = _file(tmp_path, f"arrival_s,processing_s\n0,0\n{MAX_SPAN_S!r},{MAX_PROCESSING_S!r}\n")
    trace = traces.read_csv(path)
    assert trace.duration_s == MAX_SPAN_S and max(trace.processing_s) == MAX_PROCESSING_S
    with pytest.raises(ValueError, match=":3: arrival_s"):
        traces.read_csv(_file(tmp_path, f"arrival_s,processing_s\n0,0\n{MAX_SPAN_S + 1!r},1\n"))
    with pytest.raises(ValueError, match=":3: processing_s"):
        traces.read_csv(_file(tmp_path, f"arrival_s,processing_s\n0,0\n1,{MAX_PROCESSING_S + 1!r}\n"))


def test_too_many_messages_is_an_error_naming_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traces, "MAX_MESSAGES", 3)
    body = "arrival_s,processing_s\n" + "".join(f"{i},1\n" for i in range(3))
    assert len(traces.read_csv(_file(tmp_path, body))) == 3
    path = _file(tmp_path, body + "3,1\n")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:5: more than 3 messages"):
        traces.read_csv(path)
    with pytest.raises(ValueError, match="more than 3 messages"):
        Trace((0.0, 1.0, 2.0, 3.0), (1.0, 1.0, 1.0, 1.0))


def test_invalid_utf8_names_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, b"arrival_s,processing_s\n0,1\n2,\xff3\n")
    message = f"{path}: not UTF-8 text (line 3: byte 0xff, invalid start byte)"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        traces.read_csv(path)


def test_a_nul_byte_names_the_file_and_row(tmp_path: Path) -> None:
    path = _file(tmp_path, b"arrival_s,processing_s\n0,1\n2,\x003\n")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:3: "):
        traces.read_csv(path)


def test_a_spreadsheets_byte_order_mark_is_not_a_bad_header(tmp_path: Path) -> None:
    path = _file(tmp_path, "\ufeffarrival_s,processing_s\n0,1\n")
    assert traces.read_csv(path).processing_s == (1.0,)


def test_the_trace_itself_checks_every_message() -> None:
    """Generators and --stack histories build a Trace without a file: every message is checked."""
    with pytest.raises(ValueError, match=r"^message 3: arrival_s must be a finite number >= 0, got inf$"):
        Trace((0.0, 1.0, float("inf")), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"^message 2: processing_s .* longer than a week"):
        Trace((0.0, 1.0), (1.0, MAX_PROCESSING_S * 2))
    with pytest.raises(ValueError, match="must be sorted"):
        Trace((1.0, 0.0), (1.0, 1.0))


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("inf,10", "arrival_s must be a finite number"),
        ("1e300,10", "past the longest trace"),
        ("5,1e300", "longer than a week"),
        ("5,10,7", "expected 2 values"),
    ],
)
def test_simulate_and_plan_reject_the_file_at_once(
    tmp_path: Path, row: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, f"arrival_s,processing_s\n0,10\n{row}\n")
    assert cli.main(["simulate", "--trace", str(path), *SIMULATE, "--policy", "tuned", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qas simulate: {path}:3: ") and problem in err and "Traceback" not in err
    plan = ["plan", "--trace", str(path), "--slo-seconds", "300", "--boot-seconds", "60"]
    assert cli.main([*plan, "--concurrency", "1"]) == 2
    assert capsys.readouterr().err.startswith(f"qas plan: {path}:3: ")
