"""Several queues for one fleet in the simulator (qas/sim/multi_queue.py): the worker's strict
priority, the publisher's weighted counts and the main queue's oldest message, the queue column,
`qas simulate --queue-weights`, `qas trace --split-classes`, and a single queue unchanged."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from qas.cli import main
from qas.sim import bench, clairvoyant, http_bursts, realism
from qas.sim.multi_queue import MultiQueueDispatch, class_weights, queue_attainment
from qas.sim.policies import REFERENCE, SimFleet
from qas.sim.runner import simulate
from qas.sim.traces import Trace, read_csv, write_csv
from worker.queues import PriorityReceiver

ONE_SLOT = SimFleet(slo_s=20, max_capacity=1, boot_s=0, concurrency=1)
# One slot, always running: X (main queue) holds it 0-10 s; L (queue 1) arrives at 1 s, H (main) at 2 s.
ARRIVALS, DURATIONS, QUEUES = (0.0, 1.0, 2.0), (10.0, 10.0, 10.0), (0, 1, 0)


class _Held:
    def __init__(self, *messages: int) -> None:
        self.messages = set(messages)


def test_a_free_slot_takes_the_oldest_message_of_the_highest_priority_queue() -> None:
    assert PriorityReceiver(["main", "extra"], 20).queue_urls == ("main", "extra")  # the worker's order
    dispatch = MultiQueueDispatch((1, 0, 2, 0, 1), (0.0, 1.0, 2.0, 3.0, 4.0), (1.0, 1.0, 1.0))
    for msg in range(5):
        dispatch.push(msg)
    assert dispatch.visible == 5 and dispatch.has_ready
    assert [dispatch.pop(), dispatch.pop()] == [1, 3]  # the main queue first, oldest first
    dispatch.returned(1)  # its worker was killed: visible again, behind its own queue
    assert [dispatch.pop(), dispatch.pop(), dispatch.pop(), dispatch.pop()] == [1, 0, 4, 2]
    assert dispatch.pop() is None and dispatch.visible == 0 and not dispatch.has_ready


def test_the_engine_serves_the_main_queue_first() -> None:
    split = Trace(ARRIVALS, DURATIONS, queue=QUEUES)
    # At 10 s the slot takes H (main, arrived later) before L: H waits 8 s, L 19 s (done at 30 s).
    result = simulate(split, REFERENCE, ONE_SLOT)
    assert result.queue_attainment == (1.0, 0.0)  # X 10 s and H 18 s within 20 s; L 29 s is not
    assert result.latency_p50_s == pytest.approx(18.0)
    one_queue = simulate(Trace(ARRIVALS, DURATIONS), REFERENCE, ONE_SLOT)
    # First in, first out: L runs 10-20 s (19 s), H 20-30 s (28 s).
    assert one_queue.queue_attainment is None
    assert one_queue.latency_p50_s == pytest.approx(19.0)
    assert one_queue.slo_attainment == result.slo_attainment == pytest.approx(2 / 3)


def test_the_publisher_weights_each_queue_and_sees_the_main_queues_oldest_message() -> None:
    dispatch = MultiQueueDispatch((1, 1, 0, 0, 0), (0.0, 5.0, 10.0, 20.0, 30.0), (0.5, 4.0))
    for msg in range(1, 5):
        dispatch.push(msg)
    # Visible: 3 x 0.5 + 1 x 4 = 5.5 -> 6 (combine_queues rounds up); in flight: message 0, 4;
    # the oldest: the main queue's (arrived at 10 s), not queue 1's (5 s).
    assert dispatch.view(60.0, [_Held(0), _Held()]) == (6, 4, 50.0)
    assert dispatch.pop() == 2
    assert dispatch.view(60.0, [_Held(0, 2)]) == (5, 5, 40.0)  # 2 x 0.5 + 4 = 5; 4 + 0.5 -> 5
    assert [dispatch.pop(), dispatch.pop()] == [3, 4]
    assert dispatch.view(60.0, []) == (4, 0, 0.0)  # the main queue is empty: no age, whatever waits below


def test_the_engine_publishes_the_weighted_view() -> None:
    # A 100-s job of queue 1 holds the one slot from 0 s; queue 1 gets another at 5 s, main at 10, 20, 30.
    trace = Trace((0.0, 5.0, 10.0, 20.0, 30.0), (100.0, 1.0, 1.0, 1.0, 1.0), queue=(1, 1, 0, 0, 0))
    fleet = dataclasses.replace(ONE_SLOT, slo_s=600)
    result = simulate(trace, REFERENCE, fleet, record_timeline=True, queue_weights=(0.5, 4.0))
    first = result.timeline[0]
    assert (first.t_s, first.visible, first.in_flight, first.oldest_age_s) == (60.0, 6, 4, 50.0)
    plain = simulate(Trace(trace.arrival_s, trace.processing_s), REFERENCE, fleet, record_timeline=True)
    assert (plain.timeline[0].visible, plain.timeline[0].in_flight, plain.timeline[0].oldest_age_s) == (
        4,
        1,
        55.0,
    )


@pytest.mark.parametrize("name", ["ideal", "aws"])
def test_one_queue_with_weight_1_runs_as_the_single_queue_engine(name: str) -> None:
    single = http_bursts.http_bursts_mixed(0.2)
    on_queue_0 = dataclasses.replace(single, queue=(0,) * len(single))
    real = realism.preset(name, http_bursts.FLEET.period_s, 1)
    plain = simulate(single, "tuned", http_bursts.FLEET, record_timeline=True, realism=real)
    queued = simulate(on_queue_0, "tuned", http_bursts.FLEET, record_timeline=True, realism=real)
    assert queued.queue_attainment == (plain.slo_attainment,)
    assert queued.timeline == plain.timeline  # every published datapoint and decision
    assert queued.late_arrival_s.tolist() == plain.late_arrival_s.tolist()
    assert {**queued.summary(), "slo_attainment_per_queue": None} == {
        **plain.summary(),
        "slo_attainment_per_queue": None,
    }


def test_queue_column_round_trips_and_is_validated(tmp_path: Path) -> None:
    trace = Trace((0.0, 1.0, 1.0), (2.0, 3.0, 1.0), queue=(0, 3, 1))
    path = tmp_path / "queues.csv"
    write_csv(trace, path)
    assert path.read_text().splitlines()[0] == "arrival_s,processing_s,queue"
    assert read_csv(path) == trace
    assert trace.queues == 4
    for value in ("4", "-1", "x", "1.0", ""):
        bad = tmp_path / "bad.csv"
        bad.write_text(f"arrival_s,processing_s,queue\n0,1,0\n1,1,{value}\n")
        with pytest.raises(ValueError, match=r"bad\.csv:3: queue must be a whole number 0\.\.3"):
            read_csv(bad)
    with pytest.raises(ValueError, match="message groups on several queues are not modelled"):
        Trace((0.0,), (1.0,), ("g",), (0,))
    with pytest.raises(ValueError, match="message 2: queue must be"):
        Trace((0.0, 1.0), (1.0, 1.0), queue=(0, 4))


def test_weights_are_each_class_mean_over_the_fleets() -> None:
    trace = Trace((0.0, 1.0, 2.0), (1.0, 3.0, 8.0), queue=(0, 0, 1))  # means 2 and 8; the fleet's 4
    assert class_weights(trace) == (0.5, 2.0)
    measured = class_weights(http_bursts.http_bursts_split())
    assert measured == pytest.approx(http_bursts.SPLIT_WEIGHTS, rel=0.01)


def test_per_queue_attainment_counts_what_never_completed_as_a_miss() -> None:
    trace = Trace((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), queue=(0, 1, 1))
    assert queue_attainment(trace, [5.0, 5.0, float("nan")], 10.0) == (1.0, 0.5)
    assert queue_attainment(trace, [5.0, 15.0, 5.0], 10.0) == (1.0, 0.5)
    assert queue_attainment(Trace((0.0,), (1.0,)), [1.0], 10.0) is None


def test_the_split_is_the_producers_class_and_a_bench_scenario() -> None:
    single, split = http_bursts.http_bursts_mixed(0.2), http_bursts.http_bursts_split(0.2)
    assert (split.arrival_s, split.processing_s) == (single.arrival_s, single.processing_s)
    assert split.queue is not None and set(split.queue) == {0, 1}
    # The generator draws the long class above 60 s and redraws requests above it.
    assert all(
        (p > http_bursts.LONG_S) == (q == 1) for p, q in zip(split.processing_s, split.queue, strict=True)
    )
    scenarios = bench.scenarios_of(["http"])
    scenario = scenarios[http_bursts.SPLIT_NAME]
    assert scenario.queue_weights == http_bursts.SPLIT_WEIGHTS and scenario.trace(0.2) == split
    assert scenarios[http_bursts.NAME].trace(0.2) == single  # the one-queue scenario stays
    with pytest.raises(ValueError, match="not FIFO message groups or several queues"):
        clairvoyant.plan(split, http_bursts.FLEET)


def test_the_split_goal_on_http_bursts_mixed() -> None:
    # docs/design.md, "Bursts of mixed work": the split with strict priority attains >= 99%.
    split = bench.scenarios_of(["http"])[http_bursts.SPLIT_NAME]
    fleet = split.fleet
    tuned = simulate(split.trace(), "tuned", fleet, queue_weights=split.queue_weights)
    one_queue = simulate(http_bursts.http_bursts_mixed(), "tuned", fleet)
    assert tuned.slo_attainment >= bench.SLO_GOAL > one_queue.slo_attainment
    assert tuned.lost == 0


def test_the_warm_pool_lifts_the_split_to_the_goal_under_aws() -> None:
    # docs/design.md, "Bursts of mixed work": under aws the split alone misses its cold start at t = 0
    # (98.81%); the bench's warm-pool scenario gives every policy the pool and attains >= 99%.
    scenarios = bench.scenarios_of(["http"])
    warm, split = scenarios[http_bursts.WARM_NAME], scenarios[http_bursts.SPLIT_NAME]
    assert warm.warm_pool is not None and warm.warm_pool.size == http_bursts.WARM_POOL_SIZE
    assert (warm.queue_weights, warm.trace(0.2)) == (split.queue_weights, split.trace(0.2))
    aws = realism.preset("aws", warm.fleet.period_s, 1)
    trace = warm.trace()
    with_pool = simulate(
        trace, "tuned", warm.fleet, realism=aws, queue_weights=warm.queue_weights, warm_pool=warm.warm_pool
    )
    without = simulate(trace, "tuned", split.fleet, realism=aws, queue_weights=split.queue_weights)
    assert with_pool.slo_attainment >= bench.SLO_GOAL > without.slo_attainment
    assert with_pool.warm_pool is not None and with_pool.warm_pool.warm_starts > 0
    assert with_pool.lost == 0


OPTIONS = ["--slo-seconds", "20", "--max-capacity", "1", "--boot-seconds", "0", "--concurrency", "1"]


def test_simulate_cli_queue_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    split, plain = tmp_path / "split.csv", tmp_path / "plain.csv"
    write_csv(Trace(ARRIVALS, DURATIONS, queue=QUEUES), split)
    write_csv(Trace(ARRIVALS, DURATIONS), plain)
    base = ["simulate", "--policy", REFERENCE, "--json", *OPTIONS]
    assert main([*base, "--trace", str(split), "--queue-weights", "0.5,2"]) == 0
    assert json.loads(capsys.readouterr().out)["slo_attainment_per_queue"] == [1.0, 0.0]
    assert main([*base, "--trace", str(split)]) == 0  # default: all 1
    assert json.loads(capsys.readouterr().out)["slo_attainment_per_queue"] == [1.0, 0.0]
    assert main([*base, "--trace", str(plain)]) == 0
    assert "slo_attainment_per_queue" not in json.loads(capsys.readouterr().out)
    for argv, message in (
        (
            [*base, "--trace", str(split), "--queue-weights", "1"],
            "gives 1 weights, the trace's messages are on 2",
        ),
        ([*base, "--trace", str(split), "--queue-weights", "1,2,3"], "gives 3 weights"),
        ([*base, "--trace", str(plain), "--queue-weights", "1"], "needs the trace's queue column"),
        ([*base, "--trace", str(split), "--queue-weights", "1,0"], "argument --queue-weights: each weight"),
        ([*base, "--trace", str(split), "--queue-weights", "1,inf"], "argument --queue-weights: each weight"),
    ):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == "" and message in err and "Traceback" not in err


def test_trace_cli_writes_the_class_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "split.csv"
    assert main(["trace", http_bursts.NAME, "--split-classes", "--scale", "0.2", "--out", str(out)]) == 0
    assert read_csv(out).queue == http_bursts.http_bursts_split(0.2).queue
    weights = ",".join(f"{w:.3g}" for w in class_weights(read_csv(out)))
    assert f"(--queue-weights): {weights}" in capsys.readouterr().err
    plain = tmp_path / "plain.csv"
    assert main(["trace", http_bursts.NAME, "--scale", "0.2", "--out", str(plain)]) == 0
    assert read_csv(plain).queue is None
    assert (
        main(["trace", "steady", "--split-classes", "--scale", "0.1", "--out", str(tmp_path / "s.csv")]) == 2
    )
    assert "--split-classes: steady has no job classes" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_the_bench_reports_each_queue_of_the_split(tmp_path: Path) -> None:
    report = bench.run_bench(
        tmp_path,
        scenarios=[http_bursts.SPLIT_NAME, http_bursts.NAME],
        policies=["tuned"],
        scale=0.2,
        charts=False,
        bound=False,
    )
    split = simulate(
        http_bursts.http_bursts_split(0.2), "tuned", http_bursts.FLEET, queue_weights=(0.76, 272.0)
    )
    assert split.queue_attainment is not None
    cells = ", ".join(f"queue {i} {a:.2%}" for i, a in enumerate(split.queue_attainment))
    text = report.markdown_path.read_text()
    assert text.count("`tuned` per queue") == 1  # the split only: one queue has none
    assert f"`tuned` per queue (`ideal`; queue 0 is served first): {cells}." in text
    payload = json.loads(report.json_path.read_text())
    (entry,) = [s for s in payload["scenarios"] if s["name"] == http_bursts.SPLIT_NAME]
    per_queue = entry["realisms"]["ideal"]["results"]["tuned"]["slo_attainment_per_queue"]
    assert per_queue == [round(a, 6) for a in split.queue_attainment]
