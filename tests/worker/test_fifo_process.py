"""FIFO queues: a real worker keeps every message group in send order, one message at a time, and
still runs different groups side by side (moto server, `python -m worker` as a subprocess)."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.worker.conftest import Aws, wait_until

pytestmark = pytest.mark.slow

GROUPS = 4
PER_GROUP = 12
HANDLER = "tests.worker.sample_handlers:fifo_step"


def step(group: str, seq: int, seconds: float, **behaviour: Any) -> str:
    """A body for tests.worker.sample_handlers.fifo_step."""
    body = {"job_id": f"{group}-{seq}", "group": group, "seq": seq, "processing_seconds": seconds}
    return json.dumps(body | behaviour)


@dataclass
class Replay:
    """What an events file (tests.worker.sample_handlers.fifo_step) says happened, in file order."""

    same_group_overlaps: int = 0  # a step started while another step of its group was running
    started: dict[str, list[int]] = field(default_factory=dict)  # per group, in start order
    most_groups_at_once: int = 0

    @property
    def out_of_order(self) -> int:
        return sum(seq != sorted(seqs)[i] for seqs in self.started.values() for i, seq in enumerate(seqs))


def replay(lines: list[str]) -> Replay:
    result = Replay()
    running: dict[str, set[int]] = {}
    for line in lines:
        what, group, raw_seq = line.split()[:3]
        seq = int(raw_seq)
        steps = running.setdefault(group, set())
        if what == "start":
            result.same_group_overlaps += bool(steps)
            steps.add(seq)
            result.started.setdefault(group, []).append(seq)
            result.most_groups_at_once = max(
                result.most_groups_at_once, sum(bool(s) for s in running.values())
            )
        else:
            steps.discard(seq)
    return result


def test_replay_counts_overlaps_order_and_parallel_groups() -> None:
    lines = ["start a 0", "start b 0", "start a 2", "end a 0", "start a 1", "end a 2", "end a 1", "end b 0"]
    result = replay(lines)
    assert (result.same_group_overlaps, result.out_of_order, result.most_groups_at_once) == (2, 2, 2)
    assert result.started == {"a": [0, 2, 1], "b": [0]}
    assert replay(["start a 0", "end a 0", "start a 1", "end a 1"]).same_group_overlaps == 0


def test_each_group_runs_in_send_order_one_at_a_time_and_groups_run_side_by_side(
    aws: Aws, start_worker, tmp_path: Path
):
    # Given 4 message groups of 12 numbered messages each, every group sent in order with
    # SendMessageBatch (a receive of several messages can then return a run of one group)
    queue_url, _ = aws.fifo_queue(visibility=30)
    groups = [f"g{i}" for i in range(GROUPS)]
    for group in groups:
        aws.send_group(queue_url, group, [step(group, seq, 0.1) for seq in range(PER_GROUP)])

    # When one worker with 4 slots consumes them
    events = tmp_path / "events"
    worker = start_worker(
        queue_url, WORKER_CONCURRENCY="4", WORKER_HANDLER=HANDLER, FIFO_EVENTS_FILE=str(events)
    )
    total = GROUPS * PER_GROUP
    wait_until(
        lambda: len(worker.outcomes("processed")) == total and aws.counts(queue_url) == (0, 0), 120, "drained"
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    # Then no two messages of a group overlapped, each group started in send order, every message
    # was processed exactly once, and different groups did run at the same time
    result = replay(events.read_text().splitlines())
    assert (result.same_group_overlaps, result.out_of_order) == (0, 0), result
    assert result.started == {group: list(range(PER_GROUP)) for group in groups}
    processed = worker.outcomes("processed")
    assert sorted(line["job_id"] for line in processed) == sorted(
        f"{group}-{seq}" for group in groups for seq in range(PER_GROUP)
    )
    assert {line["receive_count"] for line in processed} == {1}
    assert result.most_groups_at_once >= 2


def test_a_message_that_fails_holds_its_group_and_comes_back_before_the_next(
    aws: Aws, start_worker, tmp_path: Path
):
    # Given three groups on a FIFO queue whose DLQ takes a message after 2 receives: in "f" the first
    # message fails once (transient), in "m" the second is malformed (permanent), and in "t" the first
    # runs past WORKER_MAX_JOB_SECONDS in a handler that ignores the cancellation
    queue_url, dlq_url = aws.fifo_queue(visibility=30, max_receive_count=2)
    assert dlq_url is not None
    aws.send_group(queue_url, "f", [step("f", 0, 0.1, fail_first=True), step("f", 1, 0.1), step("f", 2, 0.1)])
    aws.send_group(queue_url, "m", [step("m", 0, 0.1), step("m", 1, 0.1, bad=True), step("m", 2, 0.1)])
    aws.send_group(queue_url, "t", [step("t", 0, 0.1, stubborn_seconds=3), step("t", 1, 0.1)])

    # When a worker with 3 slots and a 1 s time limit consumes them
    events = tmp_path / "events"
    worker = start_worker(
        queue_url,
        WORKER_CONCURRENCY="3",
        WORKER_MAX_JOB_SECONDS="1",
        WORKER_HANDLER=HANDLER,
        FIFO_EVENTS_FILE=str(events),
    )
    good = ["f-0", "f-1", "f-2", "m-0", "m-2", "t-0", "t-1"]
    wait_until(
        lambda: (
            len(worker.outcomes("processed")) == len(good)
            and aws.counts(queue_url) == (0, 0)
            and aws.counts(dlq_url)[0] == 1
        ),
        120,
        "all processed, the bad one in the DLQ",
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    # Then each failed message ran again before the next of its group, nothing of a group ever
    # overlapped (not even the timed-out handler still running), and only the bad one is in the DLQ
    result = replay(events.read_text().splitlines())
    assert result.same_group_overlaps == 0, result
    assert result.started == {"f": [0, 0, 1, 2], "m": [0, 1, 1, 2], "t": [0, 0, 1]}
    assert sorted(line["job_id"] for line in worker.outcomes("processed")) == sorted(good)
    assert [json.loads(body)["job_id"] for body in aws.drain(dlq_url)] == ["m-1"]
    assert {line["message_group_id"] for line in worker.outcomes("timeout")} == {"t"}
