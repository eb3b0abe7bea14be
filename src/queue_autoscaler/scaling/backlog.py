"""Backlog per instance: the metric that target tracking holds at its target.

Pure: no boto3, so the metric publisher, the simulator and the demo compute it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from queue_autoscaler.scaling.policy_spec import METRICS, POLICY
from queue_autoscaler.scaling.scale_in_lane import scale_in_pressure


@dataclass(frozen=True)
class QueueCounts:
    """What `GetQueueAttributes` says of the queue (approximate counts)."""

    visible: int
    in_flight: int

    def __post_init__(self) -> None:
        if self.visible < 0 or self.in_flight < 0:
            raise ValueError(f"queue counts cannot be negative: {self}")

    @property
    def backlog(self) -> int:
        """Messages not yet done: waiting plus being processed."""
        return self.visible + self.in_flight


@dataclass(frozen=True)
class FleetCapacity:
    """Capacity of the worker fleet: consuming now (running) and asked for (desired)."""

    running: int
    desired: int

    def __post_init__(self) -> None:
        if self.running < 0 or self.desired < 0:
            raise ValueError(f"capacity cannot be negative: {self}")


# KeepWarm: one instance stays until the queue has been empty for KeepWarmMinutes. How target
# tracking computes and rounds a scale-in is documented only as "conservative", so KeepWarm does not
# lean on it: target tracking's scale-in is off (DisableScaleIn), the scale-in lane brings the fleet
# down to one instance (step rounding is documented, and its pressure never selects the last one), and
# the shutdown alarm takes that one. The share and the wait are `PolicySpec.cold_start_share` and
# `PolicySpec.keep_warm_minutes`; docs/design.md has the measurements behind both.


def keeps_warm(latency_slo_s: float, cold_start_s: float) -> bool:
    """KeepWarm=auto: is a cold start too long for the SLO?"""
    return cold_start_s > POLICY.cold_start_share * latency_slo_s


def backlog_per_instance(visible: int, in_flight: int, running: int) -> float:
    """(visible + in-flight) / max(1, running).

    In-flight messages count: they are work the fleet still holds, so scaling in on visible
    messages alone would remove busy instances. Dividing by max(1, running) keeps the metric
    defined (and large) while the fleet is empty or booting, so target tracking scales out from
    the actual backlog instead of dropping the datapoint as metric math would.
    """
    if visible < 0 or in_flight < 0 or running < 0:
        raise ValueError("counts cannot be negative")
    return (visible + in_flight) / max(1, running)


def scale_out_pressure(backlog_per_instance: float, target: float) -> float:
    """BacklogPerInstance / the target in force: how many times the capacity the target asks for.

    The fast-lane alarm compares it with the lowest step of ``PolicySpec.fast_lane_steps``
    (a CloudWatch alarm cannot divide by a target the tuner moves, so the publisher does).
    """
    if target <= 0:
        raise ValueError(f"target must be > 0, got {target!r}")
    return backlog_per_instance / target


def published_pressures(
    backlog_per_instance: float, running: int, desired: int, target: float
) -> tuple[float, float]:
    """(ScaleOutPressure, ScaleInPressure) as the publisher publishes them, with the target it read:
    the fast lane's and the scale-in lane's alarms evaluate exactly these datapoints, whatever target
    the tuner sets before they do."""
    return (
        scale_out_pressure(backlog_per_instance, target),
        scale_in_pressure(backlog_per_instance, running, desired, target),
    )


@dataclass(frozen=True)
class BacklogSample:
    """One sample of the metric publisher: the scaling metric and its inputs.

    ``peer_running``: running capacity of the other fleets on the queue (blue/green), None without
    peers. ``ceiling``: on FIFO queues, the highest metric the message groups can use
    (`scaling.fifo.cap_backlog_per_instance`), None when not capped.
    """

    queue: QueueCounts
    capacity: FleetCapacity
    peer_running: int | None = None
    ceiling: float | None = None
    target: float | None = None  # the target in force, when the publisher could read it

    def __post_init__(self) -> None:
        if self.peer_running is not None and self.peer_running < 0:
            raise ValueError(f"peer capacity cannot be negative: {self.peer_running}")

    @property
    def running_on_queue(self) -> int:
        return self.capacity.running + (self.peer_running or 0)

    @property
    def backlog_per_instance(self) -> float:
        metric = backlog_per_instance(self.queue.visible, self.queue.in_flight, self.running_on_queue)
        return metric if self.ceiling is None else min(metric, self.ceiling)

    def metrics(self) -> dict[str, float]:
        """Metric name -> value, as published under the project's namespace (see docs/contracts.md)."""
        values = {
            METRICS.backlog_per_instance: self.backlog_per_instance,
            METRICS.visible: float(self.queue.visible),
            METRICS.in_flight: float(self.queue.in_flight),
            METRICS.running: float(self.capacity.running),
            METRICS.desired: float(self.capacity.desired),
        }
        if self.peer_running is not None:
            values[METRICS.peer_running] = float(self.peer_running)
        if self.ceiling is not None:
            values[METRICS.group_ceiling] = self.ceiling
        if self.target is not None:
            values[METRICS.scale_out_pressure], values[METRICS.scale_in_pressure] = published_pressures(
                self.backlog_per_instance, self.capacity.running, self.capacity.desired, self.target
            )
        return values
