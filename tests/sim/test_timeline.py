"""The minute-by-minute timeline (`qas simulate --timeline`) and `qas explain`, on runs whose minutes
are known by hand: an always-on instance (always-on-max, one instance, one slot) and 60-s periods."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from qas import cli
from qas.sim.explain import Span, explain, side_by_side, spans
from qas.sim.policies import REFERENCE, SimFleet
from qas.sim.runner import simulate
from qas.sim.timeline import Episode, Minute, by_minute, cost_split, episodes, format_rows
from qas.sim.traces import Trace

# A job longer than the SLO (always late) at 610 s, then a short one at 1,310 s (on time).
TRACE = Trace.from_rows([(610.0, 100.0), (1310.0, 10.0)])
FLEET = SimFleet(slo_s=60, max_capacity=1, boot_s=60, concurrency=1)


def _always_on() -> tuple[list[Minute], float, float]:
    result = simulate(TRACE, REFERENCE, FLEET, record_timeline=True)
    split = cost_split(result, 60.0)
    return by_minute(result, TRACE, 60.0), split.with_work_s, split.queue_empty_s


def test_minutes_count_arrivals_and_late_arrivals_where_they_arrived() -> None:
    rows, _, _ = _always_on()
    assert [r.minute for r in rows] == list(range(len(rows)))
    assert (rows[10].arrivals, rows[10].late) == (1, 1)  # 100 s of work against a 60-s SLO
    assert (rows[21].arrivals, rows[21].late) == (1, 0)
    assert sum(r.arrivals for r in rows) == 2
    assert sum(r.late for r in rows) == 1


def test_billed_seconds_follow_the_billed_instances() -> None:
    rows, with_work, empty = _always_on()
    assert all(r.billed == 1 and r.billed_s == 60.0 for r in rows[1:-1])
    # The long job runs 610-710: the datapoint at 660 is the only one with work in flight.
    assert rows[11].in_flight == 1
    assert with_work == 60.0
    assert with_work + empty == sum(r.billed_s for r in rows)


def test_a_run_without_its_timeline_is_refused() -> None:
    result = simulate(TRACE, REFERENCE, FLEET)
    with pytest.raises(ValueError, match="record_timeline"):
        by_minute(result, TRACE, 60.0)


def _row(minute: int, late: int = 0, billed_s: float = 0.0) -> Minute:
    return Minute(minute, 0, late, 0, 0, 0, int(billed_s // 60), 0, None, 0.0, billed_s)


def test_episodes_join_close_misses_and_put_the_largest_first() -> None:
    rows = [_row(m, late) for m, late in enumerate([0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 1])]
    found = episodes(rows, join_minutes=6)
    assert found == [Episode(3, 10, 7), Episode(17, 17, 1)]
    assert episodes(rows, join_minutes=5) == [Episode(10, 10, 4), Episode(3, 4, 3), Episode(17, 17, 1)]


def test_spans_sum_the_excess_over_the_bound_where_either_bills() -> None:
    policy = [_row(0), _row(1, billed_s=120), _row(2, billed_s=120), _row(3), _row(4, billed_s=60)]
    bound = [_row(0, billed_s=60), _row(1, billed_s=60), _row(2), _row(3), _row(4, billed_s=60)]
    assert spans(policy, bound) == [Span(0, 2, 120.0), Span(4, 4, 0.0)]
    table = side_by_side(policy, bound, Span(0, 2, 120.0), "tuned")
    assert table.splitlines()[3].startswith("| 1 |")
    assert "| 2 | 0 | 1 | 0 |" in table  # minute 1: tuned bills 2, desired 0; the bound bills 1


def test_format_rows_prints_one_line_per_minute() -> None:
    rows, _, _ = _always_on()
    table = format_rows(rows[10:12]).splitlines()
    assert len(table) == 4
    assert table[2].startswith("| 10 | 1 | 1 |")


def test_simulate_writes_the_timeline_as_csv(tmp_path: Path) -> None:
    trace, out = tmp_path / "t.csv", tmp_path / "timeline.csv"
    trace.write_text("arrival_s,processing_s\n610,100\n1310,10\n")
    argv = ["simulate", "--trace", str(trace), "--policy", REFERENCE, "--slo-seconds", "60"]
    argv += ["--max-capacity", "1", "--boot-seconds", "60", "--concurrency", "1", "--timeline", str(out)]
    assert cli.main(argv) == 0
    with out.open() as f:
        table = list(csv.DictReader(f))
    assert [int(r["late"]) for r in table].count(1) == 1
    assert table[10]["late"] == "1"
    assert sum(int(r["arrivals"]) for r in table) == 2


def test_explain_compares_the_policy_with_the_bound(capsys: pytest.CaptureFixture[str]) -> None:
    x = explain("burst", "tuned", "ideal", 1, scale=0.25)
    assert x.bound is not None and x.bound_rows is not None
    assert x.bound.slo_attainment >= x.result.slo_attainment
    assert cli.main(["explain", "burst", "--realism", "ideal", "--scale", "0.25"]) == 0
    out = capsys.readouterr().out
    ratio = x.result.instance_seconds / x.bound.instance_seconds
    assert f"tuned / bound = {ratio:.2f}" in out
    assert "late episodes:" in out


def test_explain_names_the_scenarios_when_one_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "no-such-scenario"]) == 2
    assert "burst" in capsys.readouterr().err
