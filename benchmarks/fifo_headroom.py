"""Benchmark (not a test): the FIFO group cap's headroom against the benchmark's FIFO scenarios.

For each headroom setting (share of the busy slots kept spare, and the minimum spare slots), runs
`tuned` on every FIFO scenario and prints SLO attainment, peak capacity and instance-hours as a
markdown table. The numbers behind HEADROOM_RATIO in src/queue_autoscaler/scaling/fifo.py.

    .venv/bin/python benchmarks/fifo_headroom.py
"""

from __future__ import annotations

from unittest import mock

from qas.sim.runner import simulate
from qas.sim.scenarios_fifo import FIFO_SCENARIOS
from queue_autoscaler.scaling import fifo

SETTINGS = ((0.0, 0), (0.0, 1), (0.25, 1), (0.5, 1), (1.0, 1))


def main() -> None:
    names = [scenario[0] for scenario in FIFO_SCENARIOS]
    print("| headroom ratio / min slots | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    traces = {name: make(1.0) for name, _d, _f, make, _g in FIFO_SCENARIOS}
    for ratio, minimum in SETTINGS:
        cells = []
        with (
            mock.patch.dict(fifo.cap_backlog_per_instance.__kwdefaults__, {"headroom_ratio": ratio}),
            mock.patch.object(fifo, "MIN_HEADROOM_SLOTS", minimum),
        ):
            for name, _description, fleet, _make, _groups in FIFO_SCENARIOS:
                result = simulate(traces[name], "tuned", fleet)
                cells.append(
                    f"{result.slo_attainment:.2%}, peak {result.peak_capacity},"
                    f" {result.instance_seconds / 3600:.1f} h"
                )
        print(f"| {ratio:g} / {minimum} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
