"""The discrete-event simulator: a queue, a fleet of instances with worker slots, and a controller.

Events, in time order: message arrivals (from the trace), an instance finishing its boot, a slot
finishing a message, a message becoming visible again (its worker was killed), the metric period
(the publisher's sample, then the controller's decision) and the hourly tuner run.

What it takes from the real system:

* SQS with long polling: a message goes to a free slot of a running instance at once, else waits
  (first in, first out; SQS is only roughly ordered, which changes who waits, not how long in total).
  Workers extend visibility while they work, so a message returns only when its worker is killed,
  ``visibility_timeout_s`` later.
* Instances launch when the desired capacity rises, consume after ``boot_s``, and are billed from
  launch to termination. The publisher counts them as running once InService: when they consume
  (the launch hook), or ``in_service_s`` after launch without it. A busy worker protects itself
  (when the policy allows it); scale-in takes unprotected instances
  (`qas.model.scale_in_victims.plan_scale_in`), and an instance left over because it was protected
  goes as soon as it is idle, before it takes more work.
* The metric publisher samples every period: visible, in flight, running, desired.
* A trace with message groups runs as a FIFO queue (qas/sim/fifo.py), one with a queue column as
  several queues in strict priority (qas/sim/multi_queue.py): the dispatch hooks below ask them.
* An optional observer (`qas.sim.api_calls`) is told of every worker's start, message and end, and
  counts the AWS API calls they make.
* The tuner runs on the controller's schedule on what `qas.sim.tuner_inputs` measures (the durations
  completed in its lookback window, exact percentiles as CloudWatch computes them), with the elapsed
  time of every message still in flight.

The AWS effects of `qas.sim.realism` (all off under ``ideal``, which then draws no random number and
schedules no extra event): the publisher sees the counts ``count_lag_s`` late and noisy, or misses
its sample; the alarm acts ``metric_delay_s`` after the period ends; boot times vary; launches fail
and are retried; Spot instances get a 2-minute notice, drain, and are replaced.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import replace
from itertools import chain, count

import numpy as np

from qas.model.scale_in_victims import InstanceView, plan_scale_in
from qas.sim.api_calls import ApiCalls
from qas.sim.engine_settings import EngineSettings
from qas.sim.multi_queue import dispatch_for, queue_attainment
from qas.sim.policies import Controller, Observation
from qas.sim.publisher import Publisher
from qas.sim.realism import HOUR
from qas.sim.results import SimResult, TimelinePoint, duration_stats
from qas.sim.traces import Trace
from qas.sim.tuner_inputs import completed_stats, queue_stats
from qas.sim.warm_pool import WarmPool
from queue_autoscaler.scaling.estimate import NO_RUNNING_JOBS, RunningJobs

# The result types live in qas.sim.results and the settings in qas.sim.engine_settings; importers of
# qas.sim.engine keep finding them here.
__all__ = ["EngineSettings", "SimResult", "Simulation", "TimelinePoint", "duration_stats"]

# Event kinds; at equal times, lower kinds run first (work finishes before the publisher samples).
# _SAMPLE: the lagged count the publisher will report; _EVAL: the alarm acts on a delayed datapoint;
# _NOTICE/_KILL: a Spot interruption notice and the termination 2 minutes later; _RETRY: a launch
# the group tries again after a failure.
_READY, _DONE, _VISIBLE, _SAMPLE, _TICK, _EVAL, _TUNE, _NOTICE, _KILL, _RETRY = range(10)
_IN_SERVICE = 10  # without a launch hook: the group counts the instance before it consumes


class _Instance:
    __slots__ = ("alive", "busy", "iid", "in_service", "launched_s", "messages", "ready", "started")

    def __init__(self, iid: int, launched_s: float) -> None:
        self.iid = iid
        self.launched_s = launched_s
        self.ready = False  # consumes
        self.in_service = False  # counted as running by the group (and so by the publisher)
        self.alive = True
        self.busy = 0
        self.messages: set[int] = set()
        self.started: dict[int, float] = {}  # message -> when its slot started it


class Simulation:
    def __init__(
        self,
        trace: Trace,
        controller: Controller,
        settings: EngineSettings,
        slo_s: float,
        api_calls: ApiCalls | None = None,
    ) -> None:
        """``api_calls``: told of every worker's start, message and end (qas.sim.api_calls)."""
        if settings.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.trace = trace
        self._calls = api_calls
        self.controller = controller
        self.cfg = settings
        self.real = settings.realism
        self.slo_s = slo_s
        self._events: list[tuple[float, int, int, int, int]] = []  # (time, kind, seq, instance, message)
        self._seq = count()
        self._queue: list[int] = []  # visible message indices, a FIFO over a growing list
        self._head = 0
        self._instances: dict[int, _Instance] = {}
        self._draining: dict[int, _Instance] = {}  # Spot-interrupted: no new work, billed until gone
        self._free: dict[int, _Instance] = {}  # running instances with a free slot
        self._next_id = count(1)
        self._live = 0
        self._in_service = 0  # what the publisher reports as running
        self._in_flight = 0
        self._desired = 0
        self._retrying = 0  # failed launches the group will try again
        self._billed = 0.0
        self._done_s = [math.nan] * len(trace)
        self._completions_t: list[float] = []
        self._completions_d: list[float] = []
        self._actions = 0
        self._peak = 0
        self._redeliveries = 0
        self._spot = 0
        self._launch_failures = 0
        self._timeline: list[TimelinePoint] = []
        self._hook = dispatch_for(trace, settings.queue_weights)  # FIFO groups, several queues, or None
        self._publisher = Publisher(settings.realism, settings.period_s)
        self._queue_samples: list[tuple[float, int]] = []  # (tick, in flight): duration_source "queue"
        self._pending: deque[Observation] = deque()  # datapoints the alarms have not evaluated yet
        self._warm = WarmPool(settings.warm_pool) if settings.warm_pool is not None else None
        real = self.real
        self._rng_boot, self._rng_launch = real.rng("boot"), real.rng("launch")
        self._rng_spot, self._rng_count, self._rng_miss = (
            real.rng("spot"),
            real.rng("count"),
            real.rng("miss"),
        )

    # -- fleet ---------------------------------------------------------------------------------
    def _push(self, t: float, kind: int, iid: int = 0, msg: int = 0) -> None:
        heapq.heappush(self._events, (t, kind, next(self._seq), iid, msg))

    def _boot_s(self) -> float:
        real, boot = self.real, self.cfg.boot_s
        if real.boot_jitter > 0:
            boot *= math.exp(real.boot_jitter * self._rng_boot.gauss(0.0, 1.0))  # median: boot_s
        if real.slow_boot_rate > 0 and self._rng_boot.random() < real.slow_boot_rate:
            boot *= real.slow_boot_factor
        return boot

    def _add(self, inst: _Instance) -> None:
        self._instances[inst.iid] = inst
        self._live += 1
        self._peak = max(self._peak, self._live)
        if self.real.spot_interruptions_per_hour > 0:
            life = self._rng_spot.expovariate(self.real.spot_interruptions_per_hour / HOUR)
            self._push(inst.launched_s + life, _NOTICE, inst.iid)

    def _launch(self, t: float) -> None:
        if self.real.launch_failure_rate > 0 and self._rng_launch.random() < self.real.launch_failure_rate:
            # InsufficientInstanceCapacity and the like: the group keeps trying until it has desired.
            self._launch_failures += 1
            self._retrying += 1
            self._push(t + self.real.launch_retry_s, _RETRY)
            return
        inst = _Instance(next(self._next_id), t)
        self._add(inst)
        boot = self._boot_s()
        if self._warm is not None:  # warm pool hook: a stopped instance starts in less
            boot = self._warm.launch(t, boot)
        self._push(t + boot, _READY, inst.iid)
        in_service_s = self.cfg.in_service_s
        if in_service_s is not None and in_service_s < boot:
            self._push(t + in_service_s, _IN_SERVICE, inst.iid)

    def _mark_in_service(self, inst: _Instance) -> None:
        if not inst.in_service:
            inst.in_service = True
            self._in_service += 1

    def _replenish(self, t: float) -> None:
        while self._live + self._retrying < self._desired:
            self._launch(t)

    def _release(self, inst: _Instance, t: float) -> None:
        """The instance is gone: bill it; its unfinished messages return after the visibility timeout."""
        inst.alive = False
        self._billed += t - inst.launched_s
        for msg in inst.messages:  # killed while busy: the message reappears when visibility expires
            if self._calls is not None:
                self._calls.released(inst.iid, t, inst.started[msg])
            self._in_flight -= 1
            self._redeliveries += 1
            self._push(t + self.cfg.visibility_timeout_s, _VISIBLE, 0, msg)
        inst.messages.clear()
        inst.started.clear()
        inst.busy = 0
        if self._calls is not None and inst.ready:
            self._calls.gone(inst.iid, t)

    def _leave(self, inst: _Instance) -> None:
        """The instance stops counting toward the group's capacity."""
        self._live -= 1
        if inst.in_service:
            self._in_service -= 1
        self._free.pop(inst.iid, None)
        del self._instances[inst.iid]

    def _terminate(self, inst: _Instance, t: float) -> None:
        self._leave(inst)
        self._release(inst, t)

    def _start(self, inst: _Instance, msg: int, t: float) -> None:
        inst.busy += 1
        inst.messages.add(msg)
        inst.started[msg] = t
        if self._calls is not None:
            self._calls.started(inst.iid, t)
        self._in_flight += 1
        if inst.busy >= self.cfg.concurrency:
            self._free.pop(inst.iid, None)
        self._push(t + self.trace.processing_s[msg], _DONE, inst.iid, msg)

    def _fill(self, inst: _Instance, t: float) -> None:
        """An instance with free slots takes waiting messages, or offers its slots."""
        if self._hook is not None:  # dispatch hook: what the groups or the queues' priority allow
            while inst.busy < self.cfg.concurrency and (msg := self._hook.pop()) is not None:
                self._start(inst, msg, t)
        queue = self._queue
        while inst.busy < self.cfg.concurrency and self._head < len(queue):
            msg = queue[self._head]
            self._head += 1
            self._start(inst, msg, t)
        if inst.busy < self.cfg.concurrency:
            self._free[inst.iid] = inst

    def _dispatch(self, t: float) -> None:
        """Dispatch hook: free slots take what the groups release (or the queues hold)."""
        assert self._hook is not None
        while self._free and self._hook.has_ready:
            self._fill(next(iter(self._free.values())), t)

    def _visible(self) -> int:
        return self._hook.visible if self._hook is not None else len(self._queue) - self._head

    def _enqueue(self, msg: int, t: float, *, returned: bool = False) -> None:
        if self._hook is not None:  # dispatch hook
            (self._hook.returned if returned else self._hook.push)(msg)
            self._dispatch(t)
            return
        if self._free:
            self._start(next(iter(self._free.values())), msg, t)
        else:
            self._queue.append(msg)
            if self._head > 4096 and self._head * 2 > len(self._queue):
                del self._queue[: self._head]  # keep the FIFO list from growing without bound
                self._head = 0

    def _apply_desired(self, desired: int, t: float) -> None:
        self._desired = desired
        self._replenish(t)
        if self._live > desired:
            protects = self.controller.protects_busy
            views = [
                InstanceView(
                    str(i.iid),
                    protected=protects and i.busy > 0,
                    launched_at_s=i.launched_s,
                    running=i.in_service,
                )
                for i in self._instances.values()
            ]
            for iid in plan_scale_in(views, desired).terminate:
                self._terminate(self._instances[int(iid)], t)

    # -- Spot ----------------------------------------------------------------------------------
    def _on_notice(self, iid: int, t: float) -> None:
        """The 2-minute notice: the worker stops receiving and finishes what it holds; the group
        replaces the instance at once (capacity rebalancing, CapacityRebalance: true in the template)."""
        inst = self._instances.get(iid)
        if inst is None:
            return  # already terminated
        self._spot += 1
        self._leave(inst)
        if inst.busy == 0:
            self._release(inst, t)
        else:
            self._draining[iid] = inst
            self._push(t + self.real.spot_notice_s, _KILL, iid)
        self._replenish(t)

    def _on_kill(self, iid: int, t: float) -> None:
        inst = self._draining.pop(iid, None)
        if inst is not None:
            self._release(inst, t)

    # -- events --------------------------------------------------------------------------------
    def _on_done(self, inst_id: int, msg: int, t: float) -> None:
        inst = self._instances.get(inst_id) or self._draining.get(inst_id)
        if inst is None or msg not in inst.messages:
            return  # its worker was killed; the message was put back
        inst.messages.discard(msg)
        started = inst.started.pop(msg)
        if self._calls is not None:
            self._calls.finished(inst_id, t, started)
        inst.busy -= 1
        self._in_flight -= 1
        if self._hook is not None:  # dispatch hook: the FIFO group unlocks
            self._hook.done(msg)
        self._done_s[msg] = t
        self._completions_t.append(t)
        self._completions_d.append(self.trace.processing_s[msg])
        if inst_id in self._draining:
            if inst.busy == 0:  # drained before the termination: the instance shuts down now
                del self._draining[inst_id]
                self._release(inst, t)
        elif inst.busy == 0 and self._live > self._desired:
            self._terminate(inst, t)  # protection just came off and the fleet is above desired
        else:
            self._fill(inst, t)
        if self._hook is not None:  # dispatch hook: the unlocked group's next message, on any free slot
            self._dispatch(t)

    def _queue_view(self, t: float) -> tuple[int, int, float]:
        if self._hook is not None:  # dispatch hook: FIFO groups, or several queues weighted
            return self._hook.view(t, chain(self._instances.values(), self._draining.values()))
        visible = self._visible()
        head = self._queue[self._head] if visible else None
        oldest = t - self.trace.arrival_s[head] if head is not None else 0.0
        return visible, self._in_flight, oldest

    def _on_tick(self, t: float) -> None:
        if self.cfg.duration_source == "queue":
            self._queue_samples.append((t, self._in_flight))
        obs = self._publisher.observe(
            t, self._queue_view(t), self._in_service, self._desired, self.controller.target
        )
        if self._calls is not None:
            self._calls.sampled(t)
        if self.real.metric_delay_s > 0:
            self._pending.append(obs)
            self._push(t + self.real.metric_delay_s, _EVAL)
        else:
            self._evaluate(obs)

    def _evaluate(self, obs: Observation) -> None:
        step = self.controller.step(obs)
        self._actions += step.actions
        if self.cfg.record_timeline:
            self._timeline.append(
                TimelinePoint(
                    obs.now_s,
                    obs.visible,
                    obs.in_flight,
                    obs.running,
                    step.desired,
                    self.controller.target,
                    obs.oldest_age_s,
                    self._live + len(self._draining),
                )
            )
        self._apply_desired(step.desired, obs.now_s)

    def _on_eval(self, t: float) -> None:
        # The group's desired capacity is the one in force now; the published datapoints keep theirs.
        seen = self._pending.popleft()
        self._evaluate(replace(seen, now_s=t, desired=self._desired, published_desired=seen.desired))

    def _on_tune(self, t: float) -> None:
        if self._calls is not None:
            self._calls.tuned(t)
        if self.cfg.duration_source == "queue":
            stats = queue_stats(t, self.cfg.period_s, self._completions_t, self._queue_samples)
            self.controller.retune(stats, NO_RUNNING_JOBS)
            return
        elapsed = [
            t - s
            for inst in chain(self._instances.values(), self._draining.values())
            for s in inst.started.values()
        ]
        stats = completed_stats(t, self._completions_t, self._completions_d, self.cfg.tail_percentile)
        self.controller.retune(stats, RunningJobs(len(elapsed), sum(elapsed)))

    def _idle(self, next_arrival: int) -> bool:
        quiet = self._visible() == 0 and self._in_flight == 0 and self._live == 0
        return (
            next_arrival >= len(self.trace)
            and quiet
            and not self._draining
            and self._retrying == 0
            and not any(e[1] == _VISIBLE for e in self._events)
        )

    def run(self) -> SimResult:
        arrivals = self.trace.arrival_s
        n = len(arrivals)
        end_cap = (arrivals[-1] if n else 0.0) + self.cfg.drain_s
        for _ in range(self.cfg.initial_running):
            inst = _Instance(next(self._next_id), 0.0)
            inst.ready = inst.in_service = True
            self._add(inst)
            if self._calls is not None:
                self._calls.ready(inst.iid, 0.0)
            self._free[inst.iid] = inst
        self._live = self._in_service = self._desired = self._peak = self.cfg.initial_running
        self._push(self.cfg.period_s, _TICK)
        self._push(self.controller.tune_every_s, _TUNE)
        if self._publisher.lagged:
            self._push(self._publisher.first_record_s(), _SAMPLE)
        next_arrival = 0
        t = 0.0
        while True:
            event_t = self._events[0][0]
            if next_arrival < n and arrivals[next_arrival] <= event_t:
                t = arrivals[next_arrival]
                self._enqueue(next_arrival, t)
                next_arrival += 1
                continue
            t, kind, _seq, iid, msg = heapq.heappop(self._events)
            if t > end_cap:
                t = end_cap
                break
            if kind == _DONE:
                self._on_done(iid, msg, t)
            elif kind == _READY:
                booted = self._instances.get(iid)
                if booted is not None:  # else it was terminated (or interrupted) while booting
                    booted.ready = True
                    if self._calls is not None:
                        self._calls.ready(booted.iid, t)
                    self._mark_in_service(booted)
                    self._fill(booted, t)
            elif kind == _VISIBLE:
                self._enqueue(msg, t, returned=True)
            elif kind == _SAMPLE:
                self._publisher.record(self._queue_view(t))
                self._push(t + self.cfg.period_s, _SAMPLE)
            elif kind == _TICK:
                self._on_tick(t)
                if self._idle(next_arrival):
                    break
                self._push(t + self.cfg.period_s, _TICK)
            elif kind == _EVAL:
                self._on_eval(t)
            elif kind == _TUNE:
                self._on_tune(t)
                self._push(t + self.controller.tune_every_s, _TUNE)
            elif kind == _NOTICE:
                self._on_notice(iid, t)
            elif kind == _KILL:
                self._on_kill(iid, t)
            elif kind == _IN_SERVICE:
                pending = self._instances.get(iid)
                if pending is not None:
                    self._mark_in_service(pending)
            elif kind == _RETRY:
                self._retrying -= 1
                self._replenish(t)
        for inst in list(self._instances.values()):
            self._terminate(inst, t)
        for inst in list(self._draining.values()):
            self._release(inst, t)
        return self._result(t)

    def _result(self, end_s: float) -> SimResult:
        done = np.asarray(self._done_s)
        arrivals = np.asarray(self.trace.arrival_s)
        completed_mask = ~np.isnan(done)
        latencies = (done - arrivals)[completed_mask]
        messages = len(self.trace)
        completed = int(completed_mask.sum())

        def pct(q: float) -> float:
            return float(np.percentile(latencies, q)) if completed else 0.0

        work = float(np.sum(self.trace.processing_s)) / self.cfg.concurrency if messages else 0.0
        on_time = (done - arrivals) <= self.slo_s  # a message never finished (NaN) is late
        within = int(np.count_nonzero(on_time))
        return SimResult(
            messages=messages,
            completed=completed,
            lost=messages - completed,
            slo_attainment=within / messages if messages else 1.0,
            latency_p50_s=pct(50),
            latency_p95_s=pct(95),
            latency_p99_s=pct(99),
            instance_seconds=self._billed,
            work_seconds=work,
            cost_ratio=self._billed / work if work > 0 else math.inf,
            scale_actions=self._actions,
            peak_capacity=self._peak,
            redeliveries=self._redeliveries,
            simulated_s=end_s,
            spot_interruptions=self._spot,
            launch_failures=self._launch_failures,
            missed_samples=self._publisher.missed,
            timeline=self._timeline,
            late_arrival_s=arrivals[~on_time],
            warm_pool=self._warm.close(end_s) if self._warm is not None else None,
            queue_attainment=queue_attainment(self.trace, self._done_s, self.slo_s),
        )
