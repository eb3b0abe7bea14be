"""Metric publisher: reads the queue and the fleet, publishes BacklogPerInstance and its inputs.

AWS calls: sqs:GetQueueAttributes (every queue the fleet serves), cloudwatch:PutMetricData,
autoscaling:DescribeAutoScalingGroups (EC2) or ecs:DescribeServices (ECS) for the fleet and its
peers, and autoscaling:DescribePolicies or application-autoscaling:DescribeScalingPolicies (the
target in force: ScaleOutPressure, and the group cap on FIFO queues).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from queue_autoscaler.adapters.failures import AWS_FAILURES, error_code, fail_loudly
from queue_autoscaler.adapters.metrics import FleetMetrics
from queue_autoscaler.common.observability import logger, tracer
from queue_autoscaler.common.settings import load_settings
from queue_autoscaler.metric_publisher.settings import PublisherSettings
from queue_autoscaler.metric_publisher.sources import Sources
from queue_autoscaler.platforms import make_target_policy
from queue_autoscaler.scaling.backlog import BacklogSample

# Stop sampling when less than this is left before the Lambda timeout after the next sleep.
TIMEOUT_MARGIN_S = 5.0


@cache
def get_settings() -> PublisherSettings:
    return load_settings(PublisherSettings)


def target_in_force(settings: PublisherSettings) -> float | None:
    """The scaling policy's TargetValue (one describe call), for ScaleOutPressure; None if unknown.

    A failed read only costs the pressure datapoint (the fast-lane alarm treats it as missing):
    BacklogPerInstance, which target tracking needs, is published regardless.
    """
    if not settings.policy_name:
        return None
    try:
        return make_target_policy(settings, settings.policy_name).current_target()
    except AWS_FAILURES as err:
        logger.warning(
            "cannot read the target in force: ScaleOutPressure not published",
            extra={
                "policy": settings.policy_name,
                "error_code": error_code(err),
                "error_message": str(err),
            },
        )
        return None


def take_sample(
    sources: Sources, metrics: FleetMetrics, high_resolution: bool, target: float | None = None
) -> BacklogSample:
    """One sample: read every side, then publish all metrics in one call, zeros included."""
    sample = dataclasses.replace(sources.sample(), target=target)
    with fail_loudly("publish metrics"):
        metrics.put(sample.metrics(), datetime.now(UTC), storage_resolution=1 if high_resolution else 60)
    logger.info(
        "published backlog sample",
        extra={
            "visible": sample.queue.visible,
            "in_flight": sample.queue.in_flight,
            "running": sample.capacity.running,
            "desired": sample.capacity.desired,
            "peer_running": sample.peer_running,
            "group_bound_ceiling": sample.ceiling,
            "backlog_per_instance": sample.backlog_per_instance,
            "target": target,
        },
    )
    return sample


def publish(
    settings: PublisherSettings,
    remaining_ms: Callable[[], int],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[BacklogSample]:
    """Publish one sample, or in high-resolution mode one every interval within the minute.

    Samples are scheduled from the start time (no drift from the time calls take) and the loop
    stops early rather than run into the Lambda timeout.
    """
    sources = Sources.from_settings(settings)
    metrics = FleetMetrics(settings.namespace, settings.fleet_name)
    target = target_in_force(settings)  # once per invocation: the tuner changes it every few minutes
    if target is not None:
        sources.known_target(target)  # the FIFO group cap reuses it: one describe call, not two
    samples: list[BacklogSample] = []
    start = clock()
    for index in range(settings.samples_per_invocation):
        if index:
            wait = max(0.0, start + index * settings.sample_interval_s - clock())
            if remaining_ms() / 1000 < wait + TIMEOUT_MARGIN_S:
                logger.warning(
                    "stopping early to stay inside the Lambda timeout",
                    extra={"samples": index, "planned": settings.samples_per_invocation},
                )
                break
            sleep(wait)
        samples.append(take_sample(sources, metrics, settings.high_resolution, target))
    return samples


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    logger.append_keys(fleet=settings.fleet_name, platform=settings.platform.value)
    samples = publish(settings, context.get_remaining_time_in_millis)
    return {"samples": [sample.metrics() for sample in samples]}


# Fail the cold start, not the first sample, when the configuration is wrong.
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    get_settings()
