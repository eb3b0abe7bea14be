"""The AWS API calls the product makes, counted per second and by API in the simulator.

The engine tells this observer when a worker starts, takes a message, finishes one, and goes; the
calls follow the worker's rules (worker/consumer.py, worker/lease.py, worker/protection.py,
worker/metrics.py) with the template's defaults:

* ReceiveMessage: one per receive that returns messages (up to 10, only for free slots), and while a
  slot is free and the queue empty, one empty long poll every ``wait_time_s``;
* DeleteMessageBatch: the settler sends the deletes due in one ``settle_tick_s`` tick together;
* ChangeMessageVisibilityBatch: every held message is extended once a quarter of its visibility
  timeout has passed, those due in the same tick together;
* scale-in protection (EC2 SetInstanceProtection, ECS UpdateTaskProtection through the agent): on
  idle -> busy (the first receive that returns messages) and on busy -> idle (an empty long poll with
  nothing held), and on ECS renewed at a flush once half its expiry has passed;
* PutMetricData: one per flush every ``metrics_interval_s`` that has something to say (messages
  processed or failed, or jobs running), the first flush at ``flush_offset_s`` after the start;
  one last flush at shutdown;
* the lifecycle hooks (EC2, worker/lifecycle.py, worker/termination.py): each completion is a
  DescribeAutoScalingInstances then a CompleteLifecycleAction (``COMPLETION_CALLS``), at the start
  with the launch hook and after the drain with the termination hook. Every departure is a
  termination through that hook, noticed within ``termination_poll_s``: a heartbeat at the notice
  and every ``HEARTBEAT_EVERY_SECONDS`` until the drain is over (the engine ends the instance's jobs
  at once, so the drain is the long poll in flight). A Spot-interrupted worker, which sees the Spot
  notice first and records no heartbeat, is counted the same way;
* the rollout check (ECS only: an EC2 worker learns of a refresh through the termination hook):
  DescribeServices by worker/rollout_watch.py's rules, its first at a random point of the first
  five intervals, then every ``check_interval(rollout_check_s, running tasks)`` jittered, the
  running tasks being the workers alive at the check;
* the Lambdas: the publisher per sample (GetQueueAttributes, the fleet's describe, PutMetricData) and
  once per invocation its policy read; the tuner's reads and writes once per run (``TUNER_CALLS``).
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from qas.model.control_plane import Platform
from qas.model.platforms import MODEL_PLATFORMS, model_platform
from qas.model.platforms.apis import PlatformApis
from worker.lifecycle import COMPLETION_CALLS
from worker.rollout_watch import check_interval, first_check_delay, next_check_delay
from worker.settings import Settings
from worker.termination import HEARTBEAT_EVERY_SECONDS

RECEIVE = "sqs:ReceiveMessage"
DELETE = "sqs:DeleteMessageBatch"
HEARTBEAT = "sqs:ChangeMessageVisibilityBatch"
QUEUE_ATTRIBUTES = "sqs:GetQueueAttributes"
PUT_METRIC_DATA = "cloudwatch:PutMetricData"
GET_METRIC_STATISTICS = "cloudwatch:GetMetricStatistics"
GET_METRIC_DATA = "cloudwatch:GetMetricData"
COMPLETE_LIFECYCLE = "autoscaling:CompleteLifecycleAction"
LIFECYCLE_HEARTBEAT = "autoscaling:RecordLifecycleActionHeartbeat"
_COMPLETION = tuple(f"autoscaling:{operation}" for operation in COMPLETION_CALLS)
PUBLISHER_INVOCATION_S = 60.0  # EventBridge schedules fire at most once a minute
# Every EC2 Auto Scaling call of the account draws from one throttle bucket
# (https://repost.aws/knowledge-center/autoscaling-api-calls-throttled): its busiest second is the
# sum of the APIs'.
SHARED_BUCKET_SERVICES = ("autoscaling",)


# Each platform's calls: its model module (qas.model.platforms) names them.
APIS = {platform: spec.apis for platform, spec in MODEL_PLATFORMS.items()}


def tuner_calls(apis: PlatformApis) -> dict[str, int]:
    """One tuner run at most (src/queue_autoscaler/target_tuner/app.py): the policy read and write, two
    statistics per lookback window over up to five windows (10 -> 120 minutes), the age, three latest
    values and two running-job sums, one GetMetricData for the settled minutes, the decision's two
    metric puts."""
    return {
        apis.policy_describe: 1,
        GET_METRIC_STATISTICS: 2 * 5 + 1 + 3 + 2,
        GET_METRIC_DATA: 1,
        PUT_METRIC_DATA: 2,
        apis.policy_put: 1,
    }


@dataclass(frozen=True)
class CallModel:
    """The worker's and the Lambdas' settings the calls depend on (the template's defaults)."""

    platform: Platform = Platform.EC2
    concurrency: int = 1
    wait_time_s: float = 20.0  # WORKER_WAIT_TIME_SECONDS
    visibility_timeout_s: float = 60.0  # WorkerVisibilityTimeout
    metrics_interval_s: float = 60.0  # WORKER_METRICS_INTERVAL
    protection_expires_minutes: int = 60  # WORKER_PROTECTION_EXPIRES_MINUTES (ECS)
    # The first flush's offset after the worker starts: None = drawn in [0, metrics_interval_s) per
    # worker (worker/consumer.py: flushes of workers that start together spread over the interval).
    flush_offset_s: float | None = None
    launch_hook: bool = True  # EC2: the worker completes the launch lifecycle action
    termination_poll_s: float = 5.0  # WORKER_TERMINATION_POLL_SECONDS: when it notices a termination
    # WORKER_ROLLOUT_CHECK_SECONDS of every ECS worker (0: off)
    rollout_check_s: float = Settings.rollout_check_seconds
    samples_per_period: int = 1  # the publisher's samples per metric period (1; 6 would be 10 s)
    queues: int = 1
    seed: int = 1

    @property
    def settle_tick_s(self) -> float:
        return min(0.25, self.visibility_timeout_s / 8)  # worker/lease.py Leases.tick

    @property
    def heartbeat_every_s(self) -> float:
        return self.visibility_timeout_s / 4  # worker/backoff.py needs_extension


@dataclass
class _Worker:
    started_s: float
    next_flush_s: float
    busy: int = 0
    protected: bool = False
    protected_at_s: float = -math.inf
    poll_since_s: float | None = None  # an empty long poll cycle in progress since
    processed: bool = False  # since the last flush
    receive_at_s: float = -1.0  # the current receive's time and size (batched starts)
    receive_size: int = 0
    heartbeats: dict[float, int] = field(default_factory=dict)  # receive time -> extensions sent
    next_check_s: float = math.inf  # its next rollout check


class ApiCalls:
    """The engine's observer: records every call's time, by API."""

    def __init__(self, model: CallModel) -> None:
        self.model = model
        self.apis = APIS[model.platform]
        self.platform = model_platform(model.platform)
        self.calls: dict[str, list[float]] = defaultdict(list)
        self._workers: dict[int, _Worker] = {}
        self._buckets: set[tuple[str, int, int]] = set()  # (api, worker, settle tick): one call each
        self._rng = random.Random(f"{model.seed}:flush")
        self._rng_poll = random.Random(f"{model.seed}:termination")
        self._rng_rollout = random.Random(f"{model.seed}:rollout")
        self._invocation = -1
        # The workers alive, after each start and departure: the running count a check reads.
        self._running_since: list[float] = [-math.inf]
        self._running: list[int] = [0]

    def _call(self, api: str, t: float, n: int = 1) -> None:
        self.calls[api].extend([t] * n)

    def _batched(self, api: str, iid: int, t: float) -> None:
        key = (api, iid, math.floor(t / self.model.settle_tick_s))
        if key not in self._buckets:
            self._buckets.add(key)
            self._call(api, t)

    def _protect(self, worker: _Worker, on: bool, t: float) -> None:
        worker.protected, worker.protected_at_s = on, t
        self._call(self.apis.protection, t)

    # -- the worker's life ---------------------------------------------------------------------
    def ready(self, iid: int, t: float) -> None:
        m = self.model
        offset = (
            self._rng.uniform(0.0, m.metrics_interval_s) if m.flush_offset_s is None else m.flush_offset_s
        )
        worker = _Worker(started_s=t, next_flush_s=t + offset, poll_since_s=t)
        self._workers[iid] = worker
        self._count_running(t)
        if self.platform.launch_hook and m.launch_hook:
            self._complete(t)
        if self.apis.rollout_check is not None and m.rollout_check_s > 0:
            worker.next_check_s = t + first_check_delay(m.rollout_check_s, self._rng_rollout)

    def _count_running(self, t: float) -> None:
        self._running_since.append(t)
        self._running.append(len(self._workers))

    def _running_at(self, t: float) -> int:
        return self._running[bisect.bisect_right(self._running_since, t) - 1]

    def _complete(self, t: float) -> None:
        for api in _COMPLETION:
            self._call(api, t)

    def _advance(self, iid: int, worker: _Worker, t: float) -> None:
        """The periodic calls up to ``t``, the worker's state unchanged since its last event."""
        m = self.model
        while worker.poll_since_s is not None and worker.poll_since_s + m.wait_time_s <= t:
            worker.poll_since_s += m.wait_time_s  # an empty long poll returned
            self._call(RECEIVE, worker.poll_since_s, m.queues)
            if worker.protected and worker.busy == 0:
                self._protect(worker, False, worker.poll_since_s)
        renew_s = m.protection_expires_minutes * 30.0 if self.platform.protection_expires else math.inf
        while worker.next_flush_s <= t:
            at = worker.next_flush_s
            if worker.busy or worker.processed:
                self._call(PUT_METRIC_DATA, at)
            worker.processed = False
            if worker.busy and worker.protected and at - worker.protected_at_s >= renew_s:
                self._protect(worker, True, at)
            worker.next_flush_s += m.metrics_interval_s
        while worker.next_check_s <= t:
            at = worker.next_check_s
            assert self.apis.rollout_check is not None
            self._call(self.apis.rollout_check, at)
            interval = check_interval(m.rollout_check_s, self._running_at(at))
            worker.next_check_s = at + next_check_delay(interval, 0, self._rng_rollout)

    def started(self, iid: int, t: float) -> None:
        worker = self._workers[iid]
        self._advance(iid, worker, t)
        if worker.receive_at_s == t and worker.receive_size < 10:
            worker.receive_size += 1  # the same receive returned it
        else:
            worker.receive_at_s, worker.receive_size = t, 1
            self._call(RECEIVE, t)
        if not worker.protected:
            self._protect(worker, True, t)  # idle -> busy: protect before starting
        worker.busy += 1
        # With a slot still free the receiver polls again at once; with none it waits for one.
        worker.poll_since_s = t if worker.busy < self.model.concurrency else None

    def finished(self, iid: int, t: float, received_s: float) -> None:
        worker = self._workers[iid]
        self._advance(iid, worker, t)
        self._heartbeats(iid, worker, received_s, t)
        self._batched(DELETE, iid, t)
        worker.processed = True
        if worker.busy == self.model.concurrency:
            worker.poll_since_s = t  # a slot frees: the receiver polls again
        worker.busy -= 1

    def released(self, iid: int, t: float, received_s: float) -> None:
        """The instance went with this message still running: its heartbeats, no delete."""
        worker = self._workers[iid]
        self._heartbeats(iid, worker, received_s, t)

    def _heartbeats(self, iid: int, worker: _Worker, received_s: float, until_s: float) -> None:
        every = self.model.heartbeat_every_s
        due = math.floor((until_s - received_s) / every)
        sent = worker.heartbeats.get(received_s, 0)
        for k in range(sent + 1, due + 1):
            self._batched(HEARTBEAT, iid, received_s + k * every)
        worker.heartbeats[received_s] = max(sent, due)

    def gone(self, iid: int, t: float) -> None:
        worker = self._workers.pop(iid, None)
        if worker is None:
            return  # it never started
        m = self.model
        self._advance(iid, worker, t)
        if worker.processed:
            self._call(PUT_METRIC_DATA, t)  # the last flush
        if worker.protected:
            self._protect(worker, False, t)
        self._count_running(t)
        if self.platform.termination_hook:  # once the worker's IMDS poll noticed
            noticed = t + self._rng_poll.uniform(0.0, m.termination_poll_s)
            drained = noticed
            if worker.poll_since_s is not None:  # the drain waits for the long poll in flight
                polls = math.floor((noticed - worker.poll_since_s) / m.wait_time_s) + 1
                drained = worker.poll_since_s + polls * m.wait_time_s
            beat = noticed
            while True:  # one at once, then every interval until the drain is over
                self._call(LIFECYCLE_HEARTBEAT, beat)
                beat += HEARTBEAT_EVERY_SECONDS
                if beat >= drained:
                    break
            self._complete(drained)

    # -- the Lambdas ---------------------------------------------------------------------------
    def sampled(self, t: float) -> None:
        m = self.model
        n = m.samples_per_period
        self._call(QUEUE_ATTRIBUTES, t, n * m.queues)
        self._call(self.apis.fleet_describe, t, n)
        self._call(PUT_METRIC_DATA, t, n)
        invocation = math.ceil(t / PUBLISHER_INVOCATION_S - 1e-9)
        if invocation != self._invocation:
            self._invocation = invocation
            self._call(self.apis.policy_describe, t)

    def tuned(self, t: float) -> None:
        for api, n in tuner_calls(self.apis).items():
            self._call(api, t, n)

    # -- the result ----------------------------------------------------------------------------
    def peaks(self) -> dict[str, ApiPeak]:
        """Per API: the busiest second, the busiest minute's mean, and the total; and per service
        that throttles all its calls from one bucket (EC2 Auto Scaling), every call together as
        ``<service>:*``."""
        out = {api: _peak(times) for api, times in sorted(self.calls.items())}
        for service in SHARED_BUCKET_SERVICES:
            pooled = [t for api, times in self.calls.items() if api.startswith(f"{service}:") for t in times]
            if pooled:
                out[f"{service}:*"] = _peak(pooled)
        return out


def _peak(times: list[float]) -> ApiPeak:
    seconds = np.bincount(np.floor(np.asarray(times)).astype(np.int64))
    minute = np.convolve(seconds, np.ones(60), mode="valid") / 60 if len(seconds) >= 60 else seconds
    return ApiPeak(int(seconds.max()), float(minute.max()), len(times))


@dataclass(frozen=True)
class ApiPeak:
    per_second: int  # calls in the busiest one-second window
    per_second_60s: float  # mean rate over the busiest 60 s
    total: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "peak_per_s": self.per_second,
            "peak_60s_mean_per_s": round(self.per_second_60s, 3),
            "total": self.total,
        }
