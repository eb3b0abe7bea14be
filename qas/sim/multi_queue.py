"""Several queues for one fleet: which waiting message a free worker slot takes, and what the
publisher reports.

What the engine gets from here is what the product does with ``ExtraQueueArns`` and ``QueueWeights``
(docs/fifo-and-multi-queue.md, section 2):

* **The worker** fills free slots in strict priority (worker/queues.py `PriorityReceiver`): the main
  queue (index 0) first, a lower queue only while every queue above it is empty; within a queue the
  oldest message first, as the single-queue engine does. A message whose worker was killed comes back
  at the end of its own queue after its visibility timeout. No rule against starvation.
* **The publisher** sums each queue's visible and in-flight counts times its weight
  (`queue_autoscaler.scaling.fleets.combine_queues`, the product's own rule).
* **The age of the oldest message** the policy sees is the main queue's: the tuner's SLO guard reads
  AWS/SQS ``ApproximateAgeOfOldestMessage`` of ``QUEUE_NAME``, the stack's main queue (the extra queues
  only have an alarm, ``<stack>-extra-queues-slo-breach``).

Not modelled: the worker's long poll over the queues in turn (a slot that finds the main queue empty
takes a lower queue's message at once), and count noise per queue (the realism's noise is applied to
the weighted sums the publisher reports).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from qas.sim.fifo import FifoDispatch, Holder
from qas.sim.publisher import QueueView
from qas.sim.traces import Trace
from queue_autoscaler.scaling.backlog import QueueCounts
from queue_autoscaler.scaling.fleets import WeightedQueue, combine_queues


def check_weights(trace: Trace, weights: Sequence[float] | None) -> tuple[float, ...]:
    """The weights for this trace's queues (None: all 1, as an empty ``QueueWeights``); raises
    ValueError when there is no queue column, or the counts differ, or a weight is not > 0."""
    if trace.queue is None:
        if weights is not None:
            raise ValueError(
                "--queue-weights needs the trace's queue column (header arrival_s,processing_s,queue)"
            )
        return (1.0,)
    if weights is None:
        return (1.0,) * trace.queues
    if len(weights) != trace.queues:
        raise ValueError(
            f"--queue-weights gives {len(weights)} weights, the trace's messages are on {trace.queues}"
            " queues (0..highest queue index): one weight per queue"
        )
    for weight in weights:
        WeightedQueue(QueueCounts(0, 0), weight)  # the product's own check: finite and > 0
    return tuple(weights)


def class_weights(trace: Trace) -> tuple[float, ...]:
    """Each queue's mean processing time over the whole trace's mean: the ``QueueWeights`` an
    operator would compute from the fleet's history (1 per queue without messages)."""
    if trace.queue is None or not trace.processing_s:
        return (1.0,)
    mean = sum(trace.processing_s) / len(trace.processing_s)
    totals = [0.0] * trace.queues
    counts = [0] * trace.queues
    for queue, processing in zip(trace.queue, trace.processing_s, strict=True):
        totals[queue] += processing
        counts[queue] += 1
    return tuple(t / c / mean if c and mean > 0 else 1.0 for t, c in zip(totals, counts, strict=True))


class MultiQueueDispatch:
    """The engine's dispatch hook for a trace with a queue column (the same calls as FifoDispatch)."""

    def __init__(self, queue_of: Sequence[int], arrival_s: Sequence[float], weights: Sequence[float]) -> None:
        self._queue_of = queue_of
        self._arrival_s = arrival_s
        self._weights = tuple(weights)
        self._waiting: list[deque[int]] = [deque() for _ in self._weights]
        self.visible = 0

    @property
    def has_ready(self) -> bool:
        """Some waiting message may go now."""
        return self.visible > 0

    def push(self, msg: int) -> None:
        """A message arrives on its queue."""
        self._waiting[self._queue_of[msg]].append(msg)
        self.visible += 1

    def returned(self, msg: int) -> None:
        """Visibility expired after its worker was killed: visible again, behind its queue."""
        self.push(msg)

    def pop(self) -> int | None:
        """The message a free slot takes: the oldest of the highest-priority queue that has any."""
        for waiting in self._waiting:
            if waiting:
                self.visible -= 1
                return waiting.popleft()
        return None

    def done(self, msg: int) -> None:
        """Deleted: nothing waits on it (no group lock between queues)."""

    def view(self, t: float, instances: Iterable[Holder]) -> QueueView:
        """What the publisher reads: the weighted visible and in-flight counts, and the age of the main
        queue's oldest visible message (``instances``: every instance holding messages in flight)."""
        held = [0] * len(self._weights)
        for instance in instances:
            for msg in instance.messages:
                held[self._queue_of[msg]] += 1
        counts = combine_queues(
            [
                WeightedQueue(QueueCounts(len(waiting), busy), weight)
                for waiting, busy, weight in zip(self._waiting, held, self._weights, strict=True)
            ]
        )
        main = self._waiting[0]
        oldest = t - self._arrival_s[main[0]] if main else 0.0
        return counts.visible, counts.in_flight, oldest


Dispatch = FifoDispatch | MultiQueueDispatch


def dispatch_for(trace: Trace, weights: Sequence[float] | None) -> Dispatch | None:
    """The engine's dispatch hook for this trace: FIFO message groups, several queues, or None (one
    standard queue: the engine's own FIFO list)."""
    if trace.group is not None:
        if weights is not None:
            raise ValueError("queue weights need a queue column, not FIFO message groups")
        return FifoDispatch(trace.group, trace.arrival_s)
    if trace.queue is None and weights is None:
        return None
    checked = check_weights(trace, weights)
    assert trace.queue is not None
    return MultiQueueDispatch(trace.queue, trace.arrival_s, checked)


def queue_attainment(trace: Trace, done_s: Sequence[float], slo_s: float) -> tuple[float, ...] | None:
    """Each queue's SLO attainment (strict priority may starve the lower queues); None: one queue.
    ``done_s``: when each message completed (NaN: never)."""
    if trace.queue is None:
        return None
    within = [0] * trace.queues
    total = [0] * trace.queues
    for queue, arrival, done in zip(trace.queue, trace.arrival_s, done_s, strict=True):
        total[queue] += 1
        within[queue] += done - arrival <= slo_s  # NaN compares False: never completed
    return tuple(w / n if n else 1.0 for w, n in zip(within, total, strict=True))
