"""http-bursts-mixed reproduces the held-out workload's statistics (qas/sim/http_bursts.py).

Tolerances: median and p99 processing within 10%, the share of work in jobs over 60 s within 2
points of 23%, the mean busy slots within 0.1 of 1.6, the busiest minute within 10% of 880 arrivals,
and three minutes each carrying 30-40x the mean minute's work. Same seed, same trace.
"""

from __future__ import annotations

import numpy as np
import pytest

from qas.sim import bench, http_bursts
from qas.sim.http_bursts import SPAN_S, http_bursts_mixed


@pytest.fixture(scope="module")
def trace() -> tuple[np.ndarray, np.ndarray]:
    t = http_bursts_mixed()
    return np.asarray(t.arrival_s), np.asarray(t.processing_s)


def test_processing_times(trace: tuple[np.ndarray, np.ndarray]) -> None:
    _, p = trace
    assert float(np.median(p)) == pytest.approx(0.017, rel=0.1)
    assert float(np.percentile(p, 99)) == pytest.approx(12.0, rel=0.1)
    assert float(p[p > 60].sum() / p.sum()) == pytest.approx(0.23, abs=0.02)
    assert float(p.sum() / SPAN_S) == pytest.approx(1.6, abs=0.1)


def test_burst_minutes(trace: tuple[np.ndarray, np.ndarray]) -> None:
    a, p = trace
    minute = (a // 60).astype(int)
    work = np.bincount(minute, weights=p, minlength=480) / (p.sum() / 480)
    arrivals = np.bincount(minute, minlength=480)
    assert int(arrivals.max()) == pytest.approx(880, rel=0.1)
    top = np.sort(work)[-4:]
    assert all(30 <= x <= 40 for x in top[1:])
    assert top[0] < 10  # the rest are ordinary minutes


def test_deterministic_and_in_the_http_group() -> None:
    assert http_bursts_mixed(0.1) == http_bursts_mixed(0.1)
    assert http_bursts_mixed(0.1, seed=1) != http_bursts_mixed(0.1)
    scenario = bench.scenarios_of(["http"])[http_bursts.NAME]
    assert (scenario.fleet.slo_s, scenario.fleet.boot_s, scenario.fleet.max_capacity) == (300, 180, 23)
    assert http_bursts.NAME not in bench.scenarios_of(list(bench.GROUPS))
