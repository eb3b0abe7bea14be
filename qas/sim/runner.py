"""One simulation from a trace, a policy name and the deployment's parameters."""

from __future__ import annotations

import dataclasses

from qas.model.platforms import model_platform
from qas.sim import clairvoyant
from qas.sim.api_calls import ApiCalls
from qas.sim.engine import EngineSettings, SimResult, Simulation
from qas.sim.policies import REFERENCE, SimFleet, make_controller
from qas.sim.realism import IDEAL, Realism
from qas.sim.traces import Trace
from qas.sim.warm_pool import WarmPoolSettings

# The user's estimate of processing time at deploy time: the mean of the first messages, which a
# user who has run the job a few times knows. Policies that retune replace it within the hour.
ESTIMATE_SAMPLE = 100


def expected_mean(trace: Trace) -> float:
    first = trace.processing_s[:ESTIMATE_SAMPLE]
    return max(0.001, sum(first) / len(first)) if first else 1.0


def as_fifo(fleet: SimFleet) -> SimFleet:
    """The deployment on a FIFO queue: the group cap, and the template's one-instance bootstrap."""
    return dataclasses.replace(fleet, fifo=True, bootstrap_capacity=1, bootstrap_steps=())


def simulate(
    trace: Trace,
    policy: str,
    fleet: SimFleet,
    *,
    record_timeline: bool = False,
    drain_s: float | None = None,
    initial_target: float | None = None,
    fifo_aware: bool = True,
    realism: Realism = IDEAL,
    api_calls: ApiCalls | None = None,
    warm_pool: WarmPoolSettings | None = None,
    attainment: float = clairvoyant.DEFAULT_ATTAINMENT,
    queue_weights: tuple[float, ...] | None = None,
) -> SimResult:
    """``fifo_aware=False`` runs a grouped trace with the fleet as given (the benchmark's measure of
    what the group cap and the FIFO bootstrap save). ``warm_pool``: an EC2 warm pool (EC2 only).
    ``attainment``: the clairvoyant schedule's target (qas.sim.clairvoyant.solve). ``queue_weights``:
    QueueWeights of a trace with a queue column (qas/sim/multi_queue.py; None: all 1)."""
    if warm_pool is not None and not model_platform(fleet.platform).warm_pool:
        raise ValueError("--warm-pool is EC2 only: a warm pool is an EC2 Auto Scaling feature (ECS has none)")
    if policy == clairvoyant.NAME:
        if warm_pool is not None:
            raise ValueError("--policy clairvoyant models no warm pool: drop --warm-pool")
        return clairvoyant.solve(trace, fleet, attainment, realism=realism, record_timeline=record_timeline)
    engine = EngineSettings(
        concurrency=fleet.concurrency,
        boot_s=fleet.boot_s,
        period_s=float(fleet.period_s),
        tail_percentile=fleet.tail_percentile,
        record_timeline=record_timeline,
        initial_running=fleet.max_capacity if policy == REFERENCE else 0,
        realism=realism,
        duration_source=fleet.duration_source,
        in_service_s=fleet.published_in_service_s,
        warm_pool=warm_pool,
        queue_weights=queue_weights,
    )
    if drain_s is not None:
        engine = dataclasses.replace(engine, drain_s=drain_s)
    if fifo_aware and trace.group is not None and not fleet.fifo:
        fleet = as_fifo(fleet)
    controller = make_controller(policy, fleet, expected_mean(trace), initial_target)
    return Simulation(trace, controller, engine, fleet.slo_s, api_calls).run()
