"""What the simulation engine is told: the fleet's shape, the periods, what of AWS it models."""

from __future__ import annotations

from dataclasses import dataclass

from qas.sim.realism import IDEAL, Realism
from qas.sim.warm_pool import WarmPoolSettings


@dataclass(frozen=True)
class EngineSettings:
    concurrency: int
    boot_s: float
    period_s: float = 60.0
    tail_percentile: float = 90.0
    visibility_timeout_s: float = 60.0
    drain_s: float = 6 * 3600.0  # how long after the last arrival the run may go on
    record_timeline: bool = True
    initial_running: int = 0  # instances already running at t=0 (the always-on reference)
    # Which part of the boot the published running count sees. None: an instance counts once it
    # consumes (the template's launch lifecycle hook holds it in Pending:Wait until the worker can
    # take work; an ECS task is RUNNING once its container started). A number: without the hook EC2
    # puts it InService this long after launch, while user data still installs and pulls, and the
    # publisher, the lanes and the tuner count it from then.
    in_service_s: float | None = None
    realism: Realism = IDEAL
    # Where the tuner's durations come from: "worker" (MsgProcessingDuration and the running-jobs
    # gauge) or "queue" (a consumer of your own: Little's law on the publisher's in-flight samples and
    # the completions per period, scaling.service_time, as the tuner Lambda falls back to).
    duration_source: str = "worker"
    # An EC2 warm pool (qas/sim/warm_pool.py): None, as without one, changes nothing.
    warm_pool: WarmPoolSettings | None = None
    # QueueWeights, one per queue of a trace with a queue column (qas/sim/multi_queue.py); None: all 1.
    queue_weights: tuple[float, ...] | None = None
