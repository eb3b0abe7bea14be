"""What the publisher reads each sample: its queues, its fleet, the peers on the queue, and (FIFO)
the target, combined into one BacklogSample by the pure rules of scaling.fleets and scaling.fifo."""

from __future__ import annotations

from dataclasses import dataclass, field

from queue_autoscaler.adapters.failures import fail_loudly
from queue_autoscaler.adapters.fleet import Fleet, TargetPolicy, peer_capacity
from queue_autoscaler.adapters.queue import SqsQueue
from queue_autoscaler.common.observability import logger
from queue_autoscaler.metric_publisher.settings import PublisherSettings
from queue_autoscaler.platforms import make_target_policy, platform_of
from queue_autoscaler.scaling.backlog import BacklogSample
from queue_autoscaler.scaling.fifo import cap_backlog_per_instance
from queue_autoscaler.scaling.fleets import WeightedQueue, combine_queues


@dataclass
class Sources:
    queues: list[SqsQueue]
    weights: list[float]
    fleet: Fleet
    peers: dict[str, Fleet] = field(default_factory=dict)
    policy: TargetPolicy | None = None  # FIFO only: the group cap is expressed in the target's units
    concurrency: int = 1
    _target: float | None = None

    @classmethod
    def from_settings(cls, settings: PublisherSettings) -> Sources:
        platform = platform_of(settings.platform)
        policy = make_target_policy(settings, settings.policy_name) if settings.fifo else None
        return cls(
            queues=[SqsQueue(url) for url in settings.queue_urls],
            weights=settings.weights,
            fleet=platform.fleet(settings.ecs_cluster, settings.fleet_name),
            peers={n: platform.peer_fleet(n, settings.ecs_cluster) for n in settings.peers},
            policy=policy,
            concurrency=settings.worker_concurrency,
        )

    def known_target(self, target: float) -> None:
        """The target in force, already read this invocation."""
        self._target = target

    def target(self) -> float:
        """The policy's target, read once per invocation (the tuner changes it every few minutes)."""
        if self._target is None:
            assert self.policy is not None
            self._target = self.policy.current_target()
        return self._target

    def sample(self) -> BacklogSample:
        with fail_loudly("read queue"):
            counts = combine_queues(
                [WeightedQueue(q.counts(), w) for q, w in zip(self.queues, self.weights, strict=True)]
            )
        with fail_loudly("read fleet capacity"):
            capacity = self.fleet.capacity()
        peer_running: int | None = None
        if self.peers:
            with fail_loudly("read peer fleets"):
                found = {name: peer_capacity(fleet) for name, fleet in self.peers.items()}
            missing = sorted(name for name, cap in found.items() if cap is None)
            if missing:
                logger.warning("peer fleet not found; counted as 0 running", extra={"peers": missing})
            peer_running = sum(cap.running for cap in found.values() if cap is not None)
        sample = BacklogSample(queue=counts, capacity=capacity, peer_running=peer_running)
        if self.policy is None:
            return sample
        with fail_loudly("read scaling target"):
            target = self.target()
        running = sample.running_on_queue
        ceiling = cap_backlog_per_instance(
            sample.backlog_per_instance,
            visible=counts.visible,
            in_flight=counts.in_flight,
            running=running,
            concurrency=self.concurrency,
            target=target,
        )
        if ceiling >= sample.backlog_per_instance:
            return sample  # not group-bound: scale as on a standard queue
        return BacklogSample(queue=counts, capacity=capacity, peer_running=peer_running, ceiling=ceiling)
