"""Properties of the trace reader and `qas simulate` over generated files: every row within the bounds
is read exactly; the first row outside them is named (file and line) and nothing is simulated; any
bytes at all give a Trace or a ValueError naming the file, never another exception; an accepted trace
simulates to finite, sane numbers.

The work is bounded by construction: the rows that reach the simulator arrive within two days (the
reader's own bound, 455 days, is checked here without simulating: see the bounds strategy)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qas import cli
from qas.sim import traces
from qas.sim.policies import POLICIES, REFERENCE
from qas.sim.traces import MAX_PROCESSING_S, MAX_SPAN_S

SIMULATED_SPAN_S = 2 * 86_400.0

# Values a user's file may hold: ordinary ones, the bounds and just past them, and what broke before
# (a later row's inf, nan or 1e300; negatives; words).
_SPECIAL = st.sampled_from(
    ["inf", "-inf", "nan", "NaN", "1e300", "-1", "-0.0", "1e-320", "ten", "", " ", "0x10", "1_000"]
)


def _number_text(high: float) -> st.SearchStrategy[str]:
    within = st.floats(min_value=0, max_value=high, allow_nan=False, allow_infinity=False).map(repr)
    return st.one_of(within, within, _SPECIAL, st.sampled_from([repr(high), repr(high * (1 + 1e-9))]))


def _row(arrival_high: float) -> st.SearchStrategy[list[str]]:
    two = st.tuples(_number_text(arrival_high), _number_text(MAX_PROCESSING_S)).map(list)
    odd = st.lists(_number_text(arrival_high), min_size=1, max_size=4).filter(lambda r: len(r) != 2)
    return st.one_of(two, two, two, odd)


def _parse(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _blank(row: list[str]) -> bool:
    """A line with nothing but blanks is skipped, as an empty line is."""
    return len(row) == 1 and not row[0].strip()


def _bad(rows: list[list[str]]) -> int | None:
    """The index of the first row that is neither blank nor valid."""
    return next((i for i, row in enumerate(rows) if not _blank(row) and not _valid(row)), None)


def _valid(row: list[str]) -> bool:
    """The oracle, written apart from the reader: two numbers, finite, within the bounds."""
    if len(row) != 2:
        return False
    arrival, processing = _parse(row[0]), _parse(row[1])
    return (
        arrival is not None
        and processing is not None
        and 0 <= arrival <= MAX_SPAN_S
        and 0 <= processing <= MAX_PROCESSING_S
    )


@contextmanager
def _file(body: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.csv"
        path.write_bytes(body)
        yield path


def _csv(rows: list[list[str]]) -> bytes:
    # Quoted, so that an empty or blank value stays a value rather than an empty line.
    lines = ["arrival_s,processing_s", *(",".join(f'"{v}"' for v in row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


@given(st.lists(_row(MAX_SPAN_S), max_size=12))
def test_the_reader_reads_every_row_within_the_bounds_and_names_the_first_outside(
    rows: list[list[str]],
) -> None:
    with _file(_csv(rows)) as path:
        bad = _bad(rows)
        if bad is None:
            trace = traces.read_csv(path)
            expected = sorted((float(a), float(p)) for a, p in (row for row in rows if not _blank(row)))
            assert list(zip(trace.arrival_s, trace.processing_s, strict=True)) == expected
            return
        with pytest.raises(ValueError) as caught:
            traces.read_csv(path)
        assert str(caught.value).startswith(f"{path}:{bad + 2}: ")  # the header is line 1


@given(st.binary(max_size=300))
def test_any_bytes_give_a_trace_or_an_error_naming_the_file(body: bytes) -> None:
    with _file(b"arrival_s,processing_s\n" + body) as path:
        try:
            trace = traces.read_csv(path)
        except ValueError as exc:
            assert str(exc).startswith(str(path)), exc
        else:
            assert all(0 <= a <= MAX_SPAN_S for a in trace.arrival_s)
            assert all(0 <= p <= MAX_PROCESSING_S for p in trace.processing_s)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`qas ...` in-process: its exit code, stdout and stderr (capsys cannot be reset between
    Hypothesis examples)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def _finite_json(text: str) -> dict[str, object]:
    def reject(constant: str) -> float:
        raise AssertionError(f"{constant} in the output")

    data: dict[str, object] = json.loads(text, parse_constant=reject)
    return data


_FLEET = ["--slo-seconds", "300", "--max-capacity", "5", "--boot-seconds", "60", "--concurrency", "2"]
_POLICY = st.sampled_from([*POLICIES, REFERENCE])
_REALISM = st.sampled_from(["ideal", "aws"])


def _simulate(path: Path, policy: str, realism: str) -> tuple[int, str, str]:
    return run_cli(
        ["simulate", "--trace", str(path), "--policy", policy, *_FLEET, "--realism", realism, "--json"]
    )


@given(
    rows=st.lists(_row(SIMULATED_SPAN_S), min_size=1, max_size=6).filter(lambda rs: _bad(rs) is not None),
    policy=_POLICY,
    realism=_REALISM,
)
def test_simulate_rejects_a_bad_row_before_running(rows: list[list[str]], policy: str, realism: str) -> None:
    bad = _bad(rows)
    assert bad is not None  # the strategy's filter
    with _file(_csv(rows)) as path:
        code, out, err = _simulate(path, policy, realism)
    assert (code, out) == (2, "")
    assert err.startswith(f"qas simulate: {path}:{bad + 2}: ") and "Traceback" not in err


_VALID_ROW = st.tuples(
    st.floats(min_value=0, max_value=SIMULATED_SPAN_S),
    st.one_of(st.floats(min_value=0, max_value=MAX_PROCESSING_S), st.floats(min_value=0, max_value=600)),
).map(lambda r: [repr(r[0]), repr(r[1])])


@settings(max_examples=25)
@given(rows=st.lists(_VALID_ROW, max_size=8), policy=_POLICY, realism=_REALISM)
def test_an_accepted_trace_simulates_to_sane_numbers(
    rows: list[list[str]], policy: str, realism: str
) -> None:
    with _file(_csv(rows)) as path:
        code, out, err = _simulate(path, policy, realism)
    assert code == 0, err
    summary = _finite_json(out)
    messages, completed, lost = summary["messages"], summary["completed"], summary["lost"]
    assert messages == len(rows) and completed + lost == messages  # type: ignore[operator]
    assert 0 <= summary["slo_attainment"] <= 1  # type: ignore[operator]
    if summary["work_seconds"]:  # as printed: positive work has a positive, finite cost ratio
        ratio = summary["cost_ratio"]
        assert isinstance(ratio, float | int) and ratio > 0 and math.isfinite(ratio), summary
