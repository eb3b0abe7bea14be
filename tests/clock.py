"""The instant the clock-dependent tests freeze time at (time-machine), instead of reading the real one.

Tests that seed metrics at minutes relative to "now" and then run code that reads the clock itself
(the tuner's lookback, `qas plan`'s history window) gave different windows when a minute boundary
passed between the two reads. 45 s into a minute: the current minute is still incomplete, as it is
when the Lambdas run.
"""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 1, 5, 12, 0, 45, tzinfo=UTC)
