"""FIFO group cap, several queues for one fleet, several fleets on one queue: the pure rules."""

from __future__ import annotations

import math

import pytest

from queue_autoscaler.scaling.backlog import BacklogSample, FleetCapacity, QueueCounts
from queue_autoscaler.scaling.fifo import cap_backlog_per_instance, is_group_bound, usable_capacity
from queue_autoscaler.scaling.fleets import WeightedQueue, combine_queues
from worker.queues import receive_size


def test_in_flight_counts_busy_groups_because_the_worker_receives_one_fifo_message_at_a_time() -> None:
    # The cap reads in-flight messages as active groups: true only while the worker never holds
    # two messages of one group, i.e. asks for one message per receive on a FIFO queue.
    fifo = "https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo"
    assert {receive_size(fifo, free_slots) for free_slots in range(1, 17)} == {1}


def test_idle_slots_with_messages_waiting_is_group_bound() -> None:
    assert is_group_bound(visible=3000, in_flight=3, slots=8)
    assert not is_group_bound(visible=3000, in_flight=8, slots=8)  # every slot busy: groups plentiful
    assert not is_group_bound(visible=0, in_flight=3, slots=8)  # nothing waits
    with pytest.raises(ValueError):
        is_group_bound(-1, 0, 1)


def test_usable_capacity_is_the_groups_in_flight_plus_headroom() -> None:
    assert usable_capacity(in_flight=3, concurrency=4) == 1  # 3 + 1 spare slot = 4 slots
    assert usable_capacity(in_flight=4, concurrency=4) == 2  # a 5th group needs a second instance
    assert usable_capacity(in_flight=40, concurrency=4) == math.ceil(50 / 4)  # 25% headroom
    assert usable_capacity(in_flight=0, concurrency=2) == 1
    with pytest.raises(ValueError):
        usable_capacity(1, 0)


def test_three_groups_with_a_huge_backlog_ask_for_one_instance() -> None:
    # Given 3,000 messages in 3 groups, 10 instances of 4 slots running, target 30
    metric = (2997 + 3) / 10
    capped = cap_backlog_per_instance(metric, visible=2997, in_flight=3, running=10, concurrency=4, target=30)
    # Then target tracking (desired ~ running x metric / target) asks for 1 instance, not 100
    assert capped == pytest.approx(3.0)
    assert math.ceil(10 * capped / 30) == 1


def test_plentiful_groups_leave_the_metric_alone() -> None:
    metric = 500 / 2
    assert (
        cap_backlog_per_instance(metric, visible=492, in_flight=8, running=2, concurrency=4, target=30)
        == metric
    )
    # An empty fleet has no slots to judge by: the bootstrap decides, the metric is unchanged.
    assert (
        cap_backlog_per_instance(90.0, visible=90, in_flight=0, running=0, concurrency=4, target=30) == 90.0
    )
    # A metric already below the cap is not raised.
    assert cap_backlog_per_instance(0.5, visible=1, in_flight=1, running=2, concurrency=4, target=30) == 0.5
    with pytest.raises(ValueError):
        cap_backlog_per_instance(1.0, visible=1, in_flight=0, running=1, concurrency=1, target=0)


def test_queues_add_up_with_their_weights() -> None:
    high = WeightedQueue(QueueCounts(visible=10, in_flight=2))
    low = WeightedQueue(QueueCounts(visible=5, in_flight=1), weight=4.0)
    assert combine_queues([high, low]) == QueueCounts(visible=30, in_flight=6)
    assert combine_queues([high]) == high.counts
    # A fraction of a message still counts as one.
    assert combine_queues([WeightedQueue(QueueCounts(1, 0), weight=0.3)]).visible == 1
    with pytest.raises(ValueError):
        combine_queues([])
    with pytest.raises(ValueError):
        WeightedQueue(QueueCounts(0, 0), weight=0)


def test_fleets_on_one_queue_divide_the_backlog_by_all_running_capacity() -> None:
    blue, green = FleetCapacity(running=3, desired=3), FleetCapacity(running=1, desired=1)
    sample = BacklogSample(QueueCounts(visible=100, in_flight=20), blue, peer_running=1)
    assert sample.backlog_per_instance == 30.0
    assert sample.metrics()["PeerRunningCapacity"] == 1.0
    # Each fleet's target tracking asks for its share; together what one fleet alone would.
    target = 10.0
    alone = math.ceil(
        BacklogSample(QueueCounts(100, 20), FleetCapacity(4, 4)).backlog_per_instance * 4 / target
    )
    shares = [math.ceil(fleet.running * sample.backlog_per_instance / target) for fleet in (blue, green)]
    assert sum(shares) == alone == 12
    with pytest.raises(ValueError):
        BacklogSample(QueueCounts(0, 0), blue, peer_running=-1)


def test_a_ceiling_lowers_the_published_metric_and_is_published() -> None:
    sample = BacklogSample(QueueCounts(visible=2997, in_flight=3), FleetCapacity(10, 10), ceiling=3.0)
    assert sample.backlog_per_instance == 3.0
    assert sample.metrics()["GroupBoundBacklogCeiling"] == 3.0
    assert "PeerRunningCapacity" not in sample.metrics()
