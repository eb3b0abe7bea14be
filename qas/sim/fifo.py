"""FIFO dispatch for the simulator: which waiting message a free worker slot may take.

What the engine gets from here is what the worker does on a FIFO queue: it receives one message
per call (worker/queues.py receive_size), so a message group has at most one message in flight,
on one slot, and its next message goes out, in arrival order, to whichever free slot asks once
that one is deleted. A message whose worker was killed comes back first in its group once its
visibility timeout expires (the group stays locked until then). Across groups, the oldest head of
an unlocked group goes first (SQS FIFO serves groups roughly in order). Messages of a locked group
still count as visible, as ApproximateNumberOfMessages counts them. Not modelled: the worker's
hand-off between two messages of a group (its delete, then a receive: two SQS round trips) and
failed messages (the worker holds the group for the retry backoff; the simulator's jobs succeed).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol

from qas.sim.publisher import QueueView


class Holder(Protocol):
    """An instance of the engine: the messages its slots hold (in flight)."""

    messages: set[int]


class FifoDispatch:
    def __init__(self, groups: Sequence[str], arrival_s: Sequence[float] = ()) -> None:
        self._group_of = groups  # message index -> its group
        self._arrival_s = arrival_s  # for the oldest message's age (`view`)
        self._waiting: dict[str, deque[int]] = {}
        self._ready: list[tuple[int, str]] = []  # (head message, group) of unlocked groups with work
        self._locked: set[str] = set()
        self.visible = 0

    def _offer(self, group: str) -> None:
        waiting = self._waiting.get(group)
        if waiting and group not in self._locked:
            heapq.heappush(self._ready, (waiting[0], group))

    @property
    def has_ready(self) -> bool:
        """Some waiting message may go now."""
        return bool(self._ready)

    def push(self, msg: int) -> None:
        """A message arrives."""
        group = self._group_of[msg]
        waiting = self._waiting.setdefault(group, deque())
        waiting.append(msg)
        self.visible += 1
        if len(waiting) == 1:
            self._offer(group)

    def oldest_waiting(self) -> int | None:
        """The earliest-arrived waiting message (locked groups included: SQS ages them too)."""
        return min((waiting[0] for waiting in self._waiting.values() if waiting), default=None)

    def view(self, t: float, instances: Iterable[Holder]) -> QueueView:
        """What the publisher reads: visible (locked groups included), in flight (``instances``: every
        instance holding messages), and the age of the oldest waiting message."""
        head = self.oldest_waiting()
        oldest = t - self._arrival_s[head] if head is not None else 0.0
        return self.visible, sum(len(i.messages) for i in instances), oldest

    def pop(self) -> int | None:
        """The message a free slot takes now (its group locks), or None when every group with
        waiting messages has one in flight."""
        if not self._ready:
            return None
        msg, group = heapq.heappop(self._ready)
        self._waiting[group].popleft()
        self._locked.add(group)
        self.visible -= 1
        return msg

    def done(self, msg: int) -> None:
        """Deleted: its group's next message may go."""
        group = self._group_of[msg]
        self._locked.discard(group)
        self._offer(group)

    def returned(self, msg: int) -> None:
        """Visibility expired after its worker was killed: first in its group again."""
        group = self._group_of[msg]
        self._waiting.setdefault(group, deque()).appendleft(msg)
        self.visible += 1
        self._locked.discard(group)  # it was locked since its receive: no heap entry to replace
        self._offer(group)
