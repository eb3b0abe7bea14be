"""FIFO message groups (scaling.fifo) on plain values: when a queue is group-bound, how many instances
its groups can use, the cap on BacklogPerInstance, and the tuner's whole-budget model.

The worker takes one message per receive on a FIFO queue, so in-flight messages = active groups =
busy slots. Expected numbers are worked out by hand (the arithmetic in a comment), never from the
module's constants, so a changed limit, headroom or formula fails here. Refused inputs and their
messages are in test_scaling_input_errors.py.
"""

from __future__ import annotations

import pytest

from queue_autoscaler.scaling.fifo import (
    cap_backlog_per_instance,
    is_group_bound,
    plan_whole_budget,
    usable_capacity,
)
from queue_autoscaler.scaling.target import TargetModel


@pytest.mark.parametrize(
    ("visible", "in_flight", "slots", "bound"),
    [
        (1, 0, 1, True),  # the smallest group-bound queue: 1 message waits, 1 slot idles
        (1, 1, 2, True),  # one group busy, a second slot idle, its next message waits
        (0, 0, 1, False),  # nothing waits: idle slots are just idle
        (1, 1, 1, False),  # every slot busy (in flight 1 = slots 1): capacity-bound, not group-bound
        (5, 2, 1, False),  # more in flight than slots (a fleet just scaled in, still draining)
        (1, 0, 0, False),  # no slots at all (an empty fleet): the bootstrap alarm's case
        (0, 0, 0, False),  # all counts at their lowest, 0, are valid
    ],
)
def test_group_bound_means_messages_wait_while_slots_idle(
    visible: int, in_flight: int, slots: int, bound: bool
) -> None:
    assert is_group_bound(visible=visible, in_flight=in_flight, slots=slots) is bound


@pytest.mark.parametrize(
    ("in_flight", "concurrency", "instances"),
    [
        (0, 1, 1),  # 0 + max(1, ceil(0 x 0.25) = 0) = 1 slot: at least one spare slot
        (3, 1, 4),  # 3 + max(1, ceil(0.75) = 1) = 4 slots
        (4, 1, 5),  # 4 + max(1, ceil(1.0) = 1) = 5 slots
        (5, 1, 7),  # 5 + max(1, ceil(1.25) = 2) = 7 slots: the quarter rounds up, not down (6)
        (40, 1, 50),  # 40 + ceil(10.0) = 50 slots: a quarter, not a fifth (48) or 0.3 (52)
        (3, 4, 1),  # 3 + 1 = 4 slots = 1 instance of 4
        (4, 4, 2),  # 4 + 1 = 5 slots -> ceil(5 / 4) = 2: a 5th group needs a second instance
        (5, 4, 2),  # 5 + 2 = 7 slots -> ceil(7 / 4) = 2
        (40, 4, 13),  # 50 slots -> ceil(50 / 4 = 12.5) = 13
        (40, 5, 10),  # 50 slots -> 50 / 5 = 10 exactly, no extra instance
    ],
)
def test_usable_capacity_is_the_active_groups_plus_a_quarter_spare(
    in_flight: int, concurrency: int, instances: int
) -> None:
    assert usable_capacity(in_flight, concurrency) == instances


@pytest.mark.parametrize(
    ("in_flight", "concurrency", "headroom_ratio", "instances"),
    [
        (8, 1, 0.0, 9),  # no share: 8 + max(1, ceil(0) = 0) = 9, the one spare slot stays
        (8, 4, 0.0, 3),  # 9 slots -> ceil(9 / 4) = 3
        (8, 4, 1.0, 4),  # 8 + ceil(8 x 1.0) = 16 slots -> 16 / 4 = 4
        (8, 4, 0.5, 3),  # 8 + ceil(4.0) = 12 slots -> 12 / 4 = 3
        (6, 1, 0.5, 9),  # 6 + ceil(3.0) = 9 slots
    ],
)
def test_usable_capacity_takes_the_headroom_share_it_is_given(
    in_flight: int, concurrency: int, headroom_ratio: float, instances: int
) -> None:
    assert usable_capacity(in_flight, concurrency, headroom_ratio) == instances


def test_twenty_groups_on_ten_instances_of_four_are_capped_to_seven_instances() -> None:
    # Given 1,000 messages in 20 groups (20 in flight, 980 visible), 10 running x 4 slots = 40 slots,
    # target 20: the metric (980 + 20) / 10 = 100 would ask target tracking for 10 x 100 / 20 = 50.
    # The groups use 20 + ceil(20 x 0.25) = 25 slots = ceil(25 / 4) = 7 instances, so the cap is
    # target x usable / running = 20 x 7 / 10 = 14.0 (and 10 x 14 / 20 = 7 instances).
    cap = cap_backlog_per_instance(100.0, visible=980, in_flight=20, running=10, concurrency=4, target=20.0)
    assert cap == 14.0


@pytest.mark.parametrize(
    ("headroom_ratio", "cap"),
    [
        (0.0, 12.0),  # 20 + max(1, 0) = 21 slots -> ceil(21 / 4) = 6 -> 20 x 6 / 10
        (1.0, 20.0),  # 20 + 20 = 40 slots -> 10 instances -> 20 x 10 / 10
    ],
)
def test_the_cap_uses_the_headroom_share_it_is_given(headroom_ratio: float, cap: float) -> None:
    assert (
        cap_backlog_per_instance(
            100.0,
            visible=980,
            in_flight=20,
            running=10,
            concurrency=4,
            target=20.0,
            headroom_ratio=headroom_ratio,
        )
        == cap
    )


def test_one_running_instance_is_capped_too() -> None:
    # 1 group busy on 1 instance of 4 slots, 9 more messages of that group waiting, target 5: metric
    # (9 + 1) / 1 = 10. Usable: 1 + 1 spare = 2 slots -> ceil(2 / 4) = 1 instance -> cap 5 x 1 / 1 = 5.0
    assert cap_backlog_per_instance(10.0, visible=9, in_flight=1, running=1, concurrency=4, target=5.0) == 5.0


def test_a_target_of_one_message_per_instance_is_valid() -> None:
    # 3 groups on 2 instances of 4 slots, 47 waiting, target 1: metric (47 + 3) / 2 = 25.
    # Usable: 3 + 1 = 4 slots -> 1 instance -> cap 1 x 1 / 2 = 0.5
    assert (
        cap_backlog_per_instance(25.0, visible=47, in_flight=3, running=2, concurrency=4, target=1.0) == 0.5
    )
    # Below 1 too (any target > 0): 0.5 x 1 / 2 = 0.25
    assert (
        cap_backlog_per_instance(25.0, visible=47, in_flight=3, running=2, concurrency=4, target=0.5) == 0.25
    )


@pytest.mark.parametrize(
    ("metric", "visible", "in_flight", "running", "why"),
    [
        (25.0, 10, 40, 2, "more in flight than 2 x 4 = 8 slots: not group-bound"),
        (4.0, 0, 8, 2, "nothing visible: not group-bound"),
        (4.0, 0, 3, 2, "nothing visible, idle slots: still not group-bound"),
        (50.0, 50, 0, 0, "nothing running: no slots to judge by, the bootstrap decides"),
        (0.5, 1, 1, 2, "already below the cap 30 x ceil(2 / 4) / 2 = 15: never raised"),
        (15.0, 29, 1, 2, "exactly the cap 30 x 1 / 2 = 15"),
    ],
)
def test_the_metric_is_left_alone_unless_the_groups_use_less(
    metric: float, visible: int, in_flight: int, running: int, why: str
) -> None:
    kept = cap_backlog_per_instance(
        metric, visible=visible, in_flight=in_flight, running=running, concurrency=4, target=30.0
    )
    assert kept == metric, why


def test_every_slot_busy_lifts_the_cap() -> None:
    # 8 groups on 2 instances x 4 slots, 992 waiting, target 30: in flight 8 = slots 8, so more groups
    # may be waiting for a slot. The metric (992 + 8) / 2 = 500 stands and target tracking scales out.
    assert (
        cap_backlog_per_instance(500.0, visible=992, in_flight=8, running=2, concurrency=4, target=30.0)
        == 500.0
    )
    # One group fewer in flight: 7 < 8 slots, group-bound again. 7 + ceil(1.75) = 9 slots ->
    # ceil(9 / 4) = 3 instances -> 30 x 3 / 2 = 45.0
    assert (
        cap_backlog_per_instance(500.0, visible=993, in_flight=7, running=2, concurrency=4, target=30.0)
        == 45.0
    )


def test_a_fifo_target_model_plans_the_whole_budget_and_keeps_the_rest() -> None:
    model = TargetModel(
        latency_slo_s=600.0,
        concurrency=4,
        capacity_lead_s=120.0,
        lead_time_weight=0.5,
        max_lead_share=0.3,
        queue_share=0.6,
        max_wait_share=0.2,
    )
    assert plan_whole_budget(model) == TargetModel(
        latency_slo_s=600.0,
        concurrency=4,
        capacity_lead_s=120.0,
        lead_time_weight=0.5,
        max_lead_share=0.3,
        queue_share=1.0,
        max_wait_share=1.0,
    )
    assert model.queue_share == 0.6 and model.max_wait_share == 0.2  # a new model, not an edit
