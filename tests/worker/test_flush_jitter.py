"""The metrics flusher's first wait is a random part of one interval: workers that start together
(a scale-out) spread their PutMetricData calls instead of sending them in the same second."""

from __future__ import annotations

import itertools
import random

from worker.metrics import flush_delays


def test_the_first_flush_comes_within_one_interval_then_every_interval() -> None:
    waits = list(itertools.islice(flush_delays(60.0, random.Random(7)), 4))
    assert 0.0 <= waits[0] < 60.0
    assert waits[1:] == [60.0, 60.0, 60.0]


def test_workers_started_together_flush_in_different_seconds() -> None:
    # 1,000 workers started in the same second: their first flushes fall in 60 different seconds, no
    # second holding more than a few percent of them
    seconds = [int(next(flush_delays(60.0, random.Random(seed)))) for seed in range(1000)]
    assert set(seconds) == set(range(60))
    assert max(seconds.count(s) for s in range(60)) < 40
