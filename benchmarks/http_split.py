"""Benchmark (not a test): `http-bursts-mixed` on one queue against its classes split over two queues.

The split puts the long jobs on an extra queue that the worker serves in strict priority behind the
requests, with QueueWeights = each class's mean over the fleet's (docs/fifo-and-multi-queue.md,
section 2). Prints markdown tables: `tuned` on each layout with and without a warm pool (30-s warm
start), the baselines on the split, and the SLO attainment of each class (the single queue's per
class too: the same messages, in the same order, served first in first out). The numbers behind
docs/design.md, "Bursts of mixed work".

    .venv/bin/python benchmarks/http_split.py [--seeds 1,2,3] [--trace-seed 31]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from unittest import mock

from qas.sim import http_bursts, realism
from qas.sim.engine import SimResult, Simulation
from qas.sim.multi_queue import class_weights, queue_attainment
from qas.sim.runner import simulate
from qas.sim.traces import Trace
from qas.sim.warm_pool import WarmPoolSettings

POOLS = (0, 2, 5, 10)
WARM_BOOT_S = 30.0
BASELINES = ("static-3", "static-8", "keda-5", "aws-guidance", "always-on-max")


def run(
    trace: Trace,
    split: Trace,
    policy: str,
    *,
    real: realism.Realism,
    pool: int,
    weights: tuple[float, ...] | None,
) -> tuple[SimResult, tuple[float, ...]]:
    """One run, and the attainment of each class (read from the engine's completion times)."""
    done: list[float] = []
    original = Simulation._result

    def spy(self: Simulation, end_s: float) -> SimResult:
        done.extend(self._done_s)
        return original(self, end_s)

    warm = WarmPoolSettings(pool, WARM_BOOT_S) if pool else None
    with mock.patch.object(Simulation, "_result", spy):
        result = simulate(
            trace, policy, http_bursts.FLEET, realism=real, warm_pool=warm, queue_weights=weights
        )
    per_class = queue_attainment(split, done, http_bursts.FLEET.slo_s)
    assert per_class is not None
    return result, per_class


def row(label: str, result: SimResult, per_class: Sequence[float]) -> str:
    refill = result.warm_pool.refill_instance_seconds if result.warm_pool else 0.0
    with_refill = (result.instance_seconds + refill) / result.work_seconds
    cells = [
        f"{result.slo_attainment:.2%}",
        f"{result.cost_ratio:.2f}",
        f"{with_refill:.2f}",
        f"{per_class[0]:.2%}",
        f"{per_class[1]:.2%}",
        f"{result.latency_p99_s:.0f}",
        str(result.peak_capacity),
    ]
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3", help="the realism's seeds (ideal draws none)")
    parser.add_argument("--trace-seed", type=int, default=31, help="the generator's seed (the bench's: 31)")
    args = parser.parse_args()
    single = http_bursts.http_bursts_mixed(seed=args.trace_seed)
    split = http_bursts.http_bursts_mixed(seed=args.trace_seed, split=True)
    weights = http_bursts.SPLIT_WEIGHTS
    measured = ", ".join(f"{w:.3g}" for w in class_weights(split))
    print(f"trace seed {args.trace_seed}: class weights measured {measured}; used {weights}\n")
    header = (
        "| run | SLO | cost ratio | with refills | requests | long jobs | p99 (s) | peak |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in ("ideal", "aws"):
            if name == "ideal" and seed != int(args.seeds.split(",")[0]):
                continue  # ideal draws no random number: every seed gives the same run
            real = realism.preset(name, http_bursts.FLEET.period_s, seed)
            print(f"### {name}, seed {seed}\n\n{header}")
            for pool in POOLS:
                for layout, trace, w in (("one queue", single, None), ("split", split, weights)):
                    result, per_class = run(trace, split, "tuned", real=real, pool=pool, weights=w)
                    print(row(f"tuned, {layout}, pool {pool}", result, per_class))
            for policy in BASELINES:
                for layout, trace, w in (("one queue", single, None), ("split", split, weights)):
                    result, per_class = run(trace, split, policy, real=real, pool=0, weights=w)
                    print(row(f"{policy}, {layout}", result, per_class))
            print()


if __name__ == "__main__":
    main()
