"""Whether a workload's long jobs belong on their own queue: `qas plan`'s class split.

A queue whose few long jobs carry much of the work (bursts of mixed work) defeats a count-based
target: hundreds of short messages look like little work until the long ones hold every slot
(docs/design.md, "Bursts of mixed work"). The product's answer is a deployment: the long class on
an extra queue (`ExtraQueueArns`), weighted by `QueueWeights`, served in strict priority behind the
main queue (docs/fifo-and-multi-queue.md). This module finds the classes, derives the weights
(`qas.sim.multi_queue.class_weights`) and simulates the plan's own parameters with and without the
split; it recommends the split only when the simulation says it pays, because strict priority makes
the long class wait (on `pareto-tail` it loses attainment and costs more).

The classes: the trace's own ``queue`` column when it has one (the producer's classes), else the
jobs longer than ``LONG_SHARE_OF_SLO`` of the SLO, considered only when they are at most
``MAX_COUNT_SHARE`` of the messages and carry at least ``MIN_WORK_SHARE`` of the work (the
signature of the workload above). A producer knows the class before the job runs; the durations are
this planner's stand-in for it, which the output says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qas.plan.recommend import Plan, run_simulation
from qas.sim.engine import SimResult
from qas.sim.multi_queue import class_weights
from qas.sim.traces import Trace

LONG_SHARE_OF_SLO = 0.2  # a job over a fifth of the SLO is in the long class
MAX_COUNT_SHARE = 0.01
MIN_WORK_SHARE = 0.10
MIN_GAIN = 0.005  # the split must gain half a point of attainment
MAX_EXTRA_COST = 0.10  # and cost at most 10% more instance-time


@dataclass(frozen=True)
class Classes:
    trace: Trace  # with the queue column: 0 the main queue, 1 the long class
    threshold_s: float | None  # None: the trace's own queue column
    long_messages: int
    work_share: float  # the long class's share of the processing time


def classes(trace: Trace, slo_s: float) -> Classes | None:
    """The classes to split, or None when the trace shows no long class worth its own queue."""
    if trace.group is not None or len(trace) == 0:
        return None
    total = sum(trace.processing_s)
    if total <= 0:
        return None
    if trace.queue is not None:
        if trace.queues < 2:
            return None
        extra = [p for p, q in zip(trace.processing_s, trace.queue, strict=True) if q > 0]
        return Classes(trace, None, len(extra), sum(extra) / total)
    threshold = LONG_SHARE_OF_SLO * slo_s
    long = [p > threshold for p in trace.processing_s]
    count = sum(long)
    work = sum(p for p, is_long in zip(trace.processing_s, long, strict=True) if is_long)
    if count == 0 or count > MAX_COUNT_SHARE * len(trace) or work < MIN_WORK_SHARE * total:
        return None
    split = Trace(trace.arrival_s, trace.processing_s, queue=tuple(int(x) for x in long))
    return Classes(split, threshold, count, work / total)


@dataclass(frozen=True)
class SplitVerdict:
    found: Classes
    weights: tuple[float, ...]
    one_queue: SimResult
    split: SimResult

    @property
    def pays(self) -> bool:
        gain = self.split.slo_attainment - self.one_queue.slo_attainment
        extra = self.split.instance_seconds / max(self.one_queue.instance_seconds, 1e-9) - 1
        # Rounded as the JSON prints them, so that a boundary case reads as it is decided.
        return round(gain, 6) >= MIN_GAIN and round(extra, 6) <= MAX_EXTRA_COST

    @property
    def long_class_attainment(self) -> float | None:
        per_queue = self.split.queue_attainment
        return min(per_queue[1:]) if per_queue and len(per_queue) > 1 else None

    def as_dict(self) -> dict[str, Any]:
        weights = ",".join(f"{w:.3g}" for w in self.weights)
        return {
            "classes_from": "queue column" if self.found.threshold_s is None else "durations",
            "long_threshold_s": self.found.threshold_s,
            "long_messages": self.found.long_messages,
            "long_work_share": round(self.found.work_share, 4),
            "queue_weights": weights,
            "one_queue": _run(self.one_queue),
            "split": {**_run(self.split), "long_class_slo_attainment": self.long_class_attainment},
            "pays": self.pays,
            "parameter_overrides": {
                "ExtraQueueArns": "<the long class's queue ARN>",
                "QueueWeights": weights,
            },
        }

    def render(self) -> list[str]:
        d = self.as_dict()
        source = (
            "the trace's queue column"
            if self.found.threshold_s is None
            else f"jobs over {self.found.threshold_s:g} s (a producer would send them by the job's kind)"
        )
        long = d["split"]["long_class_slo_attainment"]
        return [
            f"long jobs on their own queue: {d['long_messages']} messages ({source}) carry"
            f" {d['long_work_share']:.0%} of the work; QueueWeights={d['queue_weights']}",
            f"  one queue: {d['one_queue']['slo_attainment']:.2%} within the SLO, cost ratio"
            f" {d['one_queue']['cost_ratio']:.2f}",
            f"  split:     {d['split']['slo_attainment']:.2%} within the SLO, cost ratio"
            f" {d['split']['cost_ratio']:.2f}; the long class alone"
            f" {'-' if long is None else f'{long:.2%}'} (it waits while the main queue has work)",
            "  "
            + (
                "PAYS: send the long class to an extra queue (ExtraQueueArns) with these QueueWeights"
                if self.pays
                else "does not pay: keep one queue"
            ),
        ]


def _run(result: SimResult) -> dict[str, float]:
    return {"slo_attainment": round(result.slo_attainment, 6), "cost_ratio": round(result.cost_ratio, 4)}


def assess(found: Plan, trace: Trace) -> SplitVerdict | None:
    """The plan's parameters on one queue and on the split; None when there is no long class."""
    request = found.request
    split_classes = classes(trace, request.slo_s)
    if split_classes is None:
        return None
    weights = class_weights(split_classes.trace)
    plain = Trace(trace.arrival_s, trace.processing_s)
    pool = found.warm_pool  # the plan's own pool, when the frontier chose one
    fleet, target = found.fleet, found.initial_target
    one_queue = run_simulation(plain, "tuned", fleet, target, request.realism, warm_pool=pool)
    split = run_simulation(
        split_classes.trace,
        "tuned",
        fleet,
        target,
        request.realism,
        warm_pool=pool,
        queue_weights=weights,
    )
    return SplitVerdict(split_classes, weights, one_queue, split)
