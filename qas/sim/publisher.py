"""The metric publisher as the alarms see it: late, approximate, sometimes absent.

Each period it reports the queue as it was ``count_lag_s`` ago (SQS approximate counts lag), each
count with a relative noise, and nothing at all when its invocation failed. One scheduled invocation
covers a minute (in high-resolution mode it loops over six 10 s samples), so a failed invocation
loses every sample of that minute. Under ``ideal`` it reports the exact current counts.
"""

from __future__ import annotations

import math
from collections import deque

from qas.sim.policies import Observation
from qas.sim.realism import Realism

INVOCATION_S = 60.0  # EventBridge schedules fire at most once a minute

QueueView = tuple[int, int, float]  # visible, in flight, age of the oldest visible message


class Publisher:
    def __init__(self, realism: Realism, period_s: float) -> None:
        self.real = realism
        self.period_s = period_s
        self.missed = 0  # samples not published
        self._lagged: deque[QueueView] = deque()
        self._rng_count, self._rng_miss = realism.rng("count"), realism.rng("miss")
        self._invocation = -1
        self._invocation_missed = False

    @property
    def lagged(self) -> bool:
        return self.real.count_lag_s > 0

    def first_record_s(self) -> float:
        """When to record the first lagged view (period end - lag); views due before t=0 are empty."""
        k = 1
        while k * self.period_s - self.real.count_lag_s < 0:
            self._lagged.append((0, 0, 0.0))
            k += 1
        return k * self.period_s - self.real.count_lag_s

    def record(self, view: QueueView) -> None:
        self._lagged.append(view)

    def observe(
        self, t: float, current: QueueView, running: int, desired: int, target: float | None
    ) -> Observation:
        """This period's sample; ``target`` is the one in force now, which the publisher reads."""
        visible, in_flight, oldest = self._lagged.popleft() if self.lagged else current
        missed = self._invocation_failed(t)
        self.missed += missed
        return Observation(
            t, self._noisy(visible), self._noisy(in_flight), running, desired, oldest, missed, target
        )

    def _noisy(self, value: int) -> int:
        noise = self.real.count_noise
        if noise <= 0 or value == 0:
            return value
        return max(0, round(value * (1.0 + noise * self._rng_count.gauss(0.0, 1.0))))

    def _invocation_failed(self, t: float) -> bool:
        if self.real.missed_sample_rate <= 0:
            return False
        invocation = math.ceil(t / INVOCATION_S - 1e-9)
        if invocation != self._invocation:
            self._invocation = invocation
            self._invocation_missed = self._rng_miss.random() < self.real.missed_sample_rate
        return self._invocation_missed
