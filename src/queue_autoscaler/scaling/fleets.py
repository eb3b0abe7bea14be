"""Several queues for one fleet, several fleets on one queue: what they add up to.

* One fleet serving queues in priority order: the backlogs add up (each optionally weighted by how
  long its messages take relative to the fleet's average), because the same slots drain them all.
* Fleets sharing a queue (blue/green): each divides the shared backlog by the running capacity of
  all of them (`BacklogSample.peer_running`). Target tracking then sets each fleet to ~ its share of
  backlog / target, and the sum is what one fleet alone would get, instead of every fleet sizing
  itself for the whole backlog.

Pure: no boto3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from queue_autoscaler.scaling.backlog import QueueCounts


@dataclass(frozen=True)
class WeightedQueue:
    """One queue's counts and the relative processing time of its messages (1 = fleet average)."""

    counts: QueueCounts
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.weight) or self.weight <= 0:
            raise ValueError(f"queue weight must be a finite number > 0, got {self.weight}")


def combine_queues(queues: Sequence[WeightedQueue]) -> QueueCounts:
    """The queues as one: weighted visible and in-flight counts, rounded up (a message is never 0)."""
    if not queues:
        raise ValueError("at least one queue is needed")
    visible = sum(q.counts.visible * q.weight for q in queues)
    in_flight = sum(q.counts.in_flight * q.weight for q in queues)
    return QueueCounts(visible=math.ceil(visible - 1e-9), in_flight=math.ceil(in_flight - 1e-9))
