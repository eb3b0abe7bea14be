"""The benchmark's FIFO scenarios: few groups, many groups, a hot group, groups that keep appearing,
and a deep backlog in few groups. bench.py adds them to its scenarios; the fleets are FIFO (runner.as_fifo).

Each is (name, description, fleet, trace maker, active groups). The goal checked on them
(tests/sim/test_fifo.py): peak capacity near ceil(G / concurrency) when groups bound it, and SLO
attainment within 0.5 points of the always-on reference.
"""

from __future__ import annotations

from collections.abc import Callable

from qas.sim import traces
from qas.sim.policies import SimFleet
from qas.sim.runner import as_fifo
from qas.sim.traces import Trace

HOUR = 3600.0
CONCURRENCY = 4


def _fleet(slo_s: float, max_capacity: int) -> SimFleet:
    return as_fifo(SimFleet(slo_s=slo_s, max_capacity=max_capacity, boot_s=90.0, concurrency=CONCURRENCY))


FifoScenario = tuple[str, str, SimFleet, Callable[[float], Trace], int]

FIFO_SCENARIOS: tuple[FifoScenario, ...] = (
    (
        "fifo-few-groups",
        "FIFO, 3 message groups; 6 h at 0.1 msg/s, lognormal 20 s (each group ~67% busy); SLO 10 min",
        _fleet(600, 20),
        lambda k: traces.with_groups(
            traces.steady(0.1, 6 * HOUR * k, traces.lognormal(20, 0.5), seed=31), 3, seed=31
        ),
        3,
    ),
    (
        "fifo-many-groups",
        "FIFO, 500 message groups; 6 h at 1.5 msg/s, lognormal 20 s: groups plentiful; SLO 10 min",
        _fleet(600, 30),
        lambda k: traces.with_groups(
            traces.steady(1.5, 6 * HOUR * k, traces.lognormal(20, 0.5), seed=32), 500, seed=32
        ),
        500,
    ),
    (
        "fifo-hot-group",
        "FIFO, 20 groups, one hot group with 30% of 0.5 msg/s (150% of one slot), lognormal 10 s; SLO 10 min",
        _fleet(600, 20),
        lambda k: traces.with_groups(
            traces.steady(0.5, 6 * HOUR * k, traces.lognormal(10, 0.5), seed=33), 19, seed=33, hot_share=0.3
        ),
        20,
    ),
    (
        "fifo-growing-groups",
        "FIFO, active groups growing from 2 to 40 over 6 h, 0.05 to 1 msg/s (each group ~50% busy),"
        " lognormal 20 s; SLO 10 min",
        _fleet(600, 20),
        lambda k: traces.with_growing_groups(
            traces.ramp(0.05, 1.0, 6 * HOUR * k, traces.lognormal(20, 0.5), seed=35), 2, 40, seed=35
        ),
        40,
    ),
    (
        "fifo-backlog",
        "FIFO, 3,000 messages in 3 groups at t=10 min, lognormal 2 s: a deep backlog only 3 slots can"
        " drain; SLO 10 min",
        _fleet(600, 40),
        lambda k: traces.with_groups(
            traces.burst(3000, 600, 60, 600 + 3 * HOUR * k, traces.lognormal(2, 0.3), seed=34), 3, seed=34
        ),
        3,
    ),
)
