"""FIFO in the simulator: the dispatch rules, the group column, `qas simulate --fifo`, and the goal
on the benchmark's FIFO scenarios."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from qas.cli import main
from qas.sim.bench import SCENARIOS
from qas.sim.fifo import FifoDispatch
from qas.sim.policies import REFERENCE, SimFleet
from qas.sim.runner import simulate
from qas.sim.scenarios_fifo import FIFO_SCENARIOS
from qas.sim.traces import Trace, read_csv, write_csv
from worker.queues import receive_size


def test_one_message_per_group_in_flight_and_order_kept_within_a_group() -> None:
    # What the worker does: one message per receive on a FIFO queue, so one per group in flight.
    assert receive_size("https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo", 4) == 1
    dispatch = FifoDispatch(["a", "a", "b", "a"])
    for msg in range(4):
        dispatch.push(msg)
    assert (dispatch.pop(), dispatch.pop(), dispatch.pop()) == (0, 2, None)  # a and b locked
    assert dispatch.visible == 2
    dispatch.done(0)
    assert dispatch.pop() == 1  # a's next, in order
    dispatch.returned(1)  # its worker was killed: first in its group again
    assert dispatch.pop() == 1
    dispatch.done(1)
    assert dispatch.pop() == 3
    assert dispatch.visible == 0 and not dispatch.has_ready


class _Held:
    def __init__(self, *messages: int) -> None:
        self.messages = set(messages)


def test_the_publisher_sees_locked_groups_as_visible_and_their_age() -> None:
    dispatch = FifoDispatch(["a", "a", "b"], (0.0, 5.0, 20.0))
    for msg in range(3):
        dispatch.push(msg)
    assert dispatch.pop() == 0  # a locks; its next message (5 s) still waits and ages
    assert dispatch.view(60.0, [_Held(0), _Held()]) == (2, 1, 55.0)
    assert dispatch.pop() == 2
    assert dispatch.view(60.0, [_Held(0, 2)]) == (1, 2, 55.0)


def test_the_engine_runs_groups_one_at_a_time() -> None:
    # 12 messages of 10 s in 2 groups, arriving at once, on a fleet that could run 8 at a time
    trace = Trace(tuple([0.0] * 12), tuple([10.0] * 12), tuple("ab" * 6))
    fleet = SimFleet(slo_s=600, max_capacity=2, boot_s=0, concurrency=4)
    fifo = simulate(trace, REFERENCE, fleet)
    standard = simulate(dataclasses.replace(trace, group=None), REFERENCE, fleet)
    # Each group drains one message per 10 s: the last finishes at 60 s, not at 20 s.
    assert fifo.completed == standard.completed == 12
    assert fifo.latency_p99_s == pytest.approx(60.0, abs=0.5)
    assert standard.latency_p99_s == pytest.approx(20.0, abs=0.5)


def test_group_column_round_trips_and_is_validated(tmp_path: Path) -> None:
    trace = Trace((0.0, 1.0, 1.0), (2.0, 3.0, 1.0), ("x", "y", "x"))
    path = tmp_path / "fifo.csv"
    write_csv(trace, path)
    assert path.read_text().splitlines()[0] == "arrival_s,processing_s,group"
    assert read_csv(path) == trace
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_s,processing_s,group\n0,1,\n")
    with pytest.raises(ValueError, match=r"bad\.csv:2: the group is empty"):
        read_csv(bad)


def test_simulate_cli_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain, grouped = tmp_path / "plain.csv", tmp_path / "grouped.csv"
    write_csv(Trace((0.0, 1.0), (5.0, 5.0)), plain)
    write_csv(Trace((0.0, 1.0), (5.0, 5.0), ("g", "g")), grouped)
    options = ["--slo-seconds", "600", "--max-capacity", "3", "--boot-seconds", "30", "--concurrency", "2"]
    assert main(["simulate", "--trace", str(grouped), "--policy", "tuned", "--fifo", "--json", *options]) == 0
    assert json.loads(capsys.readouterr().out)["completed"] == 2
    assert main(["simulate", "--trace", str(plain), "--policy", "tuned", "--fifo", "--json", *options]) == 2
    assert "--fifo needs the trace's group column" in capsys.readouterr().err


@pytest.mark.parametrize("scenario", FIFO_SCENARIOS, ids=[s[0] for s in FIFO_SCENARIOS])
def test_fifo_goal_peak_near_groups_over_concurrency_and_slo_like_always_on(scenario) -> None:
    name, _description, fleet, make, groups = scenario
    assert name in SCENARIOS  # the bench runs them
    trace = make(1.0)
    tuned = simulate(trace, "tuned", fleet)
    reference = simulate(trace, REFERENCE, fleet)
    assert tuned.lost == 0
    # Near ceil(G / c): at most one instance of headroom above it.
    assert tuned.peak_capacity <= math.ceil(groups / fleet.concurrency) + 1
    if name == "fifo-backlog":
        # A burst into an idle fleet: the always-on reference has no boot time; the gap is the
        # ~2.5 minutes of alarm and boot of three group slots (docs/fifo-and-multi-queue.md).
        assert tuned.slo_attainment >= reference.slo_attainment - 0.08
    else:
        assert tuned.slo_attainment >= reference.slo_attainment - 0.005


def test_without_the_group_cap_a_hot_group_scales_to_idle_instances() -> None:
    (scenario,) = [s for s in FIFO_SCENARIOS if s[0] == "fifo-hot-group"]
    _name, _description, fleet, make, _groups = scenario
    trace = make(1.0)
    aware = simulate(trace, "tuned", fleet)
    unaware_fleet = dataclasses.replace(fleet, fifo=False, bootstrap_steps=SimFleet.bootstrap_steps)
    unaware = simulate(trace, "tuned", unaware_fleet, fifo_aware=False)
    # The same SLO attainment (the hot group is the bottleneck) for a third of the instance-hours.
    assert aware.slo_attainment >= unaware.slo_attainment
    assert aware.peak_capacity < unaware.peak_capacity
    assert aware.instance_seconds < 0.5 * unaware.instance_seconds
