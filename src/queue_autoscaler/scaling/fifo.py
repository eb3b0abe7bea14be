"""FIFO queues: how much capacity the message groups can use, and the cap on the scaling metric.

While a group has a message in flight, SQS hands out no other message of that group; one receive
may still return several messages of one group
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html).
The worker asks for one message per receive on a FIFO queue (worker/queues.py receive_size), so an
active group has exactly one message in flight, on one slot, and its next message goes out once
that one is deleted: with G active groups, G messages in flight and G busy slots, whatever the
backlog. SQS's GetQueueAttributes gives no group count (only message counts); AWS/SQS publishes
ApproximateNumberOfGroupsWithInflightMessages to CloudWatch, but with the worker's one-message
receives that is the number the publisher sees more freshly as in-flight messages
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
What the publisher measures itself is the decisive fact: when the fleets have idle slots while
messages are visible, the queue is group-bound, and the in-flight count is what the groups can use.
(A consumer that takes up to 10 messages of a group per receive holds them all in flight on one
slot: in-flight then overstates the busy groups, and the cap allows more instances, never fewer.)

Pure: no boto3; the metric publisher and the simulator share it.
"""

from __future__ import annotations

import math
from dataclasses import replace

from queue_autoscaler.scaling.target import TargetModel

# Spare slots kept for groups that become active: a quarter of the busy ones, at least one. A new
# group then finds a slot at once; when all slots fill, the cap lifts and target tracking scales out.
HEADROOM_RATIO = 0.25
MIN_HEADROOM_SLOTS = 1


def is_group_bound(visible: int, in_flight: int, slots: int) -> bool:
    """Messages wait while slots idle: only the groups' one-at-a-time rule can hold them back."""
    if visible < 0 or in_flight < 0 or slots < 0:
        raise ValueError("counts cannot be negative")
    return visible > 0 and in_flight < slots


def usable_capacity(in_flight: int, concurrency: int, headroom_ratio: float = HEADROOM_RATIO) -> int:
    """Instances the active groups can keep busy, plus headroom for new groups."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if headroom_ratio < 0:
        raise ValueError("headroom_ratio must be >= 0")
    slots = in_flight + max(MIN_HEADROOM_SLOTS, math.ceil(in_flight * headroom_ratio))
    return math.ceil(slots / concurrency)


def cap_backlog_per_instance(
    metric: float,
    *,
    visible: int,
    in_flight: int,
    running: int,
    concurrency: int,
    target: float,
    headroom_ratio: float = HEADROOM_RATIO,
) -> float:
    """The metric, lowered so target tracking asks for no more than the groups can use.

    Target tracking sets desired ~ running x metric / target; a metric of target x usable / running
    makes that the usable capacity. Not group-bound (every slot busy, or nothing waiting), the
    metric is left alone and scaling works as on a standard queue. ``running`` and ``in_flight``
    cover every fleet on the queue (peers share the groups).
    """
    if target <= 0:
        raise ValueError("target must be > 0")
    if running == 0 or not is_group_bound(visible, in_flight, running * concurrency):
        return metric
    usable = usable_capacity(in_flight, concurrency, headroom_ratio)
    return min(metric, target * usable / running)


def queue_model(model: TargetModel, fifo: bool) -> TargetModel:
    """The target model for a queue: :func:`plan_whole_budget` on FIFO, the model as is otherwise."""
    return plan_whole_budget(model) if fifo else model


def plan_whole_budget(model: TargetModel) -> TargetModel:
    """The target model on a FIFO queue: the groups, not the target, bound the wait, and there is no
    SLO guard to stay below (the oldest message waits behind its own group), so the formula plans the
    whole budget (the simulator's fifo-hot-group, docs/fifo-and-multi-queue.md)."""
    return replace(model, queue_share=1.0, max_wait_share=1.0)
