"""The clairvoyant schedule on traces whose optimum is known by hand.

Every case: boot 120 s, 60-s periods (a launch at tick T consumes from T + 120), jobs of 100 s; the
engine bills from launch to termination, and a busy instance the plan retires ends with its job.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qas import cli
from qas.sim import clairvoyant, traces
from qas.sim.bench import cost_vs_bound
from qas.sim.clairvoyant import Point, bound_at, latest_starts, plan, replay, solve, target_attainment
from qas.sim.engine import SimResult
from qas.sim.policies import SimFleet
from qas.sim.traces import Trace

BOOT = 120.0
JOB = 100.0


def fleet(slo_s: float, max_capacity: int = 5, concurrency: int = 1) -> SimFleet:
    return SimFleet(slo_s=slo_s, max_capacity=max_capacity, boot_s=BOOT, concurrency=concurrency)


def run(arrivals: list[float], f: SimFleet, attainment: float = 1.0) -> SimResult:
    return solve(Trace.from_rows([(a, JOB) for a in arrivals]), f, attainment)


def test_one_job_costs_one_boot_and_its_work() -> None:
    # SLO 600: the job may wait; launched at tick 960 it starts at 1080 (latency 580 <= 600) and the
    # instance ends with it: 120 + 100, no idle second (launching earlier would idle it).
    result = run([600.0], fleet(600))
    assert result.slo_attainment == 1.0
    assert result.instance_seconds == pytest.approx(BOOT + JOB)
    assert result.latency_p50_s == pytest.approx(580.0)


def test_a_gap_shorter_than_a_boot_is_bridged() -> None:
    # SLO 120 (20 s of slack): A at 600 needs the launch at 480; B at 760 runs 760-860 on the same
    # instance after an idle 60 s, cheaper than a second boot: 860 - 480 = 380 (two instances: 440).
    result = run([600.0, 760.0], fleet(120))
    assert result.slo_attainment == 1.0
    assert result.instance_seconds == pytest.approx(380.0)
    assert result.scale_actions == 2  # one launch, one retirement


def test_a_gap_longer_than_a_boot_gets_a_new_instance() -> None:
    # B at 1000: keeping the instance idle 300 s costs more than a boot; two launches of 220 each.
    result = run([600.0, 1000.0], fleet(120))
    assert result.slo_attainment == 1.0
    assert result.instance_seconds == pytest.approx(2 * (BOOT + JOB))
    assert result.scale_actions == 4


def test_three_overlapping_jobs_on_two_slot_instances_take_two() -> None:
    result = run([600.0, 600.0, 600.0], fleet(120, concurrency=2))
    assert result.slo_attainment == 1.0
    assert result.peak_capacity == 2
    assert result.instance_seconds == pytest.approx(2 * (BOOT + JOB))


def test_max_capacity_caps_the_schedule_and_the_second_job_misses() -> None:
    # One instance at most, two jobs at 600 with SLO 150: the second ends at 800 (latency 200): the
    # ceiling is 50%. The latest start of the first moves to its arrival, so the launch is at 480.
    f = fleet(150, max_capacity=1)
    trace = Trace.from_rows([(600.0, JOB), (600.0, JOB)])
    assert latest_starts(trace, f, 6 * 3600.0) == [600.0, 650.0]
    result = solve(trace, f, 0.99)
    assert clairvoyant.ceiling(trace, f) == 0.5
    assert result.slo_attainment == 0.5
    assert result.instance_seconds == pytest.approx(320.0)
    assert result.peak_capacity == 1


def test_the_miss_budget_drops_the_instance_that_saves_the_most() -> None:
    # Two jobs at 600, SLO 150, two instances allowed: both in time costs 2 x 220; letting one miss
    # (target 50%) runs both on one instance: 480 -> 800 = 320.
    f = fleet(150, max_capacity=2)
    assert run([600.0, 600.0], f, 1.0).instance_seconds == pytest.approx(440.0)
    cheap = run([600.0, 600.0], f, 0.5)
    assert cheap.slo_attainment == 0.5
    assert cheap.instance_seconds == pytest.approx(320.0)


def test_the_replay_never_exceeds_max_capacity() -> None:
    trace = traces.burst(400, 300, 60, 1800, traces.lognormal(20, 0.5), seed=3)
    f = fleet(300, max_capacity=4, concurrency=2)
    schedule = plan(trace, f)
    assert max(schedule.desired) == 4
    result = replay(trace, f, schedule)
    assert result.peak_capacity <= 4
    assert result.lost == 0


def test_the_target_is_the_ceiling_minus_half_a_point_when_unreachable() -> None:
    assert target_attainment(0.99, 0.999) == 0.99
    assert target_attainment(0.99, 0.9) == pytest.approx(0.895)


def test_the_bound_is_the_cheapest_point_at_an_attainment_clamped_to_the_best() -> None:
    points = [Point(1.0, 500.0), Point(0.99, 400.0), Point(0.9, 300.0)]
    assert bound_at(points, 0.95) == Point(0.99, 400.0)
    assert bound_at(points, 0.5) == Point(0.9, 300.0)
    assert bound_at([Point(0.8, 100.0), Point(0.7, 50.0)], 0.99) == Point(0.8, 100.0)
    assert bound_at([], 0.9) is None


def test_cost_vs_bound_in_the_bench() -> None:
    trace = Trace.from_rows([(600.0, JOB)])
    f = fleet(600)
    tuned = SimResult(1, 1, 0, 1.0, 0, 0, 0, 440.0, JOB, 4.4, 2, 1, 0, 1000.0)
    row = cost_vs_bound({"tuned": tuned}, clairvoyant.frontier(trace, f))["tuned"]
    assert row["bound_instance_seconds"] == pytest.approx(BOOT + JOB)
    assert row["cost_vs_bound"] == pytest.approx(2.0)


def test_simulate_clairvoyant_prints_the_same_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "trace.csv"
    traces.write_csv(traces.steady(0.2, 1800, traces.lognormal(10, 0.5), seed=9), path)
    base = ["simulate", "--trace", str(path), "--slo-seconds", "300", "--max-capacity", "6"]
    base += ["--boot-seconds", "60", "--concurrency", "2", "--json", "--policy"]
    keys = []
    for policy in ("tuned", "clairvoyant"):
        assert cli.main([*base, policy]) == 0
        summary = json.loads(capsys.readouterr().out)
        keys.append(list(summary))
        assert summary["policy"] == policy
    assert keys[0] == keys[1]
    assert summary["slo_attainment"] >= 0.99
    assert summary["peak_capacity"] <= 6
    assert cli.main([*base, "clairvoyant", "--attainment", "1.5"]) == 2
    assert "--attainment" in capsys.readouterr().err


def test_fifo_traces_have_no_clairvoyant_schedule() -> None:
    grouped = Trace.from_group_rows([(1.0, 2.0, "a"), (3.0, 4.0, "b")])
    with pytest.raises(ValueError, match="FIFO message groups"):
        plan(grouped, fleet(300))
