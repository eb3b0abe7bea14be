"""`qas plan`'s class split: which jobs form the long class, the weights, and whether the split pays
(docs/fifo-and-multi-queue.md, "When to split a mixed-work queue")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qas import cli
from qas.plan.class_split import MAX_COUNT_SHARE, SplitVerdict, classes
from qas.sim import http_bursts, workloads
from qas.sim.results import SimResult
from qas.sim.traces import Trace, write_csv

SLO = 300.0  # the long class: jobs over 60 s


def _trace(short: int, long: int, long_s: float = 100.0) -> Trace:
    rows = [(float(i), 1.0) for i in range(short)] + [(short + float(i), long_s) for i in range(long)]
    return Trace.from_rows(rows)


def test_a_few_long_jobs_carrying_the_work_are_the_long_class() -> None:
    found = classes(_trace(200, 1), SLO)  # 0.5% of the messages, 100 / 300 s of the work
    assert found is not None and found.threshold_s == 60.0
    assert found.long_messages == 1 and found.work_share == pytest.approx(100 / 300)
    assert found.trace.queue == (0,) * 200 + (1,)
    assert found.trace.processing_s == _trace(200, 1).processing_s


@pytest.mark.parametrize(
    ("trace", "why"),
    [
        (_trace(99, 2), "too many: 2% of the messages"),
        (_trace(1000, 1, long_s=61.0), "too little work: 61 of 1,061 s"),
        (_trace(200, 0), "no job over a fifth of the SLO"),
        (Trace((0.0, 1.0), (1.0, 100.0), group=("a", "a")), "a FIFO queue"),
    ],
)
def test_no_long_class_worth_a_queue(trace: Trace, why: str) -> None:
    assert classes(trace, SLO) is None, why


def test_the_count_limit_is_inclusive() -> None:
    short = round(1 / MAX_COUNT_SHARE) - 1  # one long job in exactly 1% of the messages
    assert classes(_trace(short, 1, long_s=1000.0), SLO) is not None


def test_a_trace_with_a_queue_column_brings_its_own_classes() -> None:
    given = Trace((0.0, 1.0, 2.0), (1.0, 1.0, 10.0), queue=(0, 1, 0))
    found = classes(given, SLO)
    assert found is not None and found.threshold_s is None and found.trace is given
    assert (found.long_messages, found.work_share) == (1, pytest.approx(1 / 12))
    assert classes(Trace((0.0,), (1.0,), queue=(0,)), SLO) is None  # one queue only


def _result(attainment: float, instance_seconds: float) -> SimResult:
    return SimResult(
        messages=100, completed=100, lost=0, slo_attainment=attainment, latency_p50_s=1, latency_p95_s=1,
        latency_p99_s=1, instance_seconds=instance_seconds, work_seconds=1, cost_ratio=1, scale_actions=0,
        peak_capacity=1, redeliveries=0, simulated_s=1, queue_attainment=(1.0, 0.25),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("split", "pays"),
    [
        (_result(0.955, 110.0), True),  # half a point more, 10% more instance-time
        (_result(0.954, 100.0), False),  # less than half a point
        (_result(0.99, 111.0), False),  # more than 10% dearer
    ],
)
def test_the_split_pays_for_half_a_point_at_most_ten_percent_dearer(split: SimResult, pays: bool) -> None:
    found = classes(_trace(200, 1), SLO)
    assert found is not None
    verdict = SplitVerdict(found, (0.5, 100.0), _result(0.95, 100.0), split)
    assert verdict.pays is pays
    assert verdict.long_class_attainment == 0.25
    assert verdict.as_dict()["parameter_overrides"]["QueueWeights"] == "0.5,100"


PLAN = ["plan", "--slo-seconds", "300", "--boot-seconds", "180", "--concurrency", "1", "--json"]


def test_plan_recommends_the_split_on_bursts_of_mixed_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "http.csv"
    write_csv(http_bursts.http_bursts_mixed(0.5), path)
    assert cli.main([*PLAN, "--trace", str(path), "--max-capacity", "23"]) in (0, 1)
    split = json.loads(capsys.readouterr().out)["class_split"]
    assert split["classes_from"] == "durations" and split["long_threshold_s"] == 60
    assert split["split"]["slo_attainment"] > split["one_queue"]["slo_attainment"] + 0.005
    assert split["pays"] is True


def test_plan_keeps_one_queue_where_the_long_class_would_starve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pareto-tail: its few long jobs are long, not a burst's hidden work; strict priority loses more.
    name, _, fleet, make = next(s for s in workloads.SHAPE_SCENARIOS if s[0] == "pareto-tail")
    path = tmp_path / f"{name}.csv"
    write_csv(make(1.0), path)
    argv = ["plan", "--trace", str(path), "--slo-seconds", f"{fleet.slo_s:g}", "--boot-seconds", "90"]
    argv += ["--concurrency", str(fleet.concurrency), "--json"]
    assert cli.main(argv) in (0, 1)
    split = json.loads(capsys.readouterr().out)["class_split"]
    assert split["pays"] is False
