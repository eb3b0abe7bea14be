"""Target tuner: measured processing durations + the latency SLO -> the policy's TargetValue.

The durations come from the worker's MsgProcessingDuration; when no worker publishes it (a
consumer of your own), from the queue's statistics by Little's law (scaling.service_time). The
decision log says which (`duration_source`).

AWS calls: cloudwatch:GetMetricStatistics (our namespace and AWS/SQS), cloudwatch:PutMetricData, and
autoscaling:DescribePolicies + autoscaling:PutScalingPolicy (EC2) or
application-autoscaling:DescribeScalingPolicies + application-autoscaling:PutScalingPolicy (ECS;
the put also needs cloudwatch:DescribeAlarms/PutMetricAlarm/DeleteAlarms and
ecs:DescribeServices/UpdateService, which Application Auto Scaling calls on the caller's behalf).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from adapters.fleet import AsgTargetPolicy, EcsTargetPolicy, TargetPolicy
from adapters.metrics import FleetMetrics
from common.errors import fail_loudly
from common.observability import logger, metrics, tracer, use_namespace
from common.settings import Platform, load_settings
from scaling.service_time import estimate_service_time
from scaling.target import DurationStats, TargetDecision, decide_target
from target_tuner.settings import TunerSettings


@cache
def get_settings() -> TunerSettings:
    return load_settings(TunerSettings)


def make_policy(settings: TunerSettings) -> TargetPolicy:
    if settings.platform is Platform.EC2:
        return AsgTargetPolicy(settings.fleet_name, settings.policy_name)
    return EcsTargetPolicy(settings.ecs_cluster, settings.fleet_name, settings.policy_name)


def tune(
    settings: TunerSettings,
    policy: TargetPolicy,
    fleet_metrics: FleetMetrics,
    now: datetime | None = None,
) -> TargetDecision:
    """Read, decide, apply (unless dry run), and publish the target in force."""
    now = now or datetime.now(UTC)
    with fail_loudly("read scaling policy"):
        current = policy.current_target()
    stats, source = read_durations(settings, fleet_metrics, now)
    decision = decide_target(current, stats, settings.model, settings.rails)
    log_decision(settings, decision, stats, source)

    in_force = current
    if decision.changed and not settings.dry_run:
        with fail_loudly("update scaling policy"):
            policy.set_target(decision.target)
        in_force = decision.target
    metrics.add_metric(name="TargetUpdates", unit=MetricUnit.Count, value=1 if in_force != current else 0)
    with fail_loudly("publish target"):
        fleet_metrics.put({"TargetBacklogPerInstance": in_force}, now)
    return decision


def read_durations(
    settings: TunerSettings, fleet_metrics: FleetMetrics, now: datetime
) -> tuple[DurationStats | None, dict[str, str]]:
    """The worker's measured durations, else the Little's-law estimate; and which source it was."""
    with fail_loudly("read processing durations"):
        stats = fleet_metrics.duration_stats(now, settings.lookback_minutes, settings.tail_percentile)
    if stats is not None:
        return stats, {"duration_source": "MsgProcessingDuration"}
    if not settings.queue_name:
        return None, {
            "duration_source": "none",
            "duration_source_reason": "no MsgProcessingDuration, no QUEUE_NAME",
        }
    with fail_loudly("read queue statistics"):
        intervals = fleet_metrics.queue_intervals(now, settings.lookback_minutes, settings.queue_name)
    estimate = estimate_service_time(intervals, settings.min_samples)
    return estimate.stats, {
        "duration_source": "littles_law" if estimate.stats else "none",
        "duration_source_reason": f"no MsgProcessingDuration; {estimate.reason}",
    }


def log_decision(
    settings: TunerSettings, decision: TargetDecision, stats: DurationStats | None, source: dict[str, str]
) -> None:
    applied = decision.changed and not settings.dry_run
    message = "target updated" if applied else "target kept"
    if decision.changed and settings.dry_run:
        message = "dry run: would update target"
    logger.info(
        message,
        extra={
            "action": decision.action.value,
            "dry_run": settings.dry_run,
            "policy": settings.policy_name,
            "current_target": decision.current,
            "new_target": decision.target,
            "ideal_target": decision.ideal,
            "reason": decision.reason,
            "samples": stats.samples if stats else 0,
            "mean_duration_s": stats.mean_s if stats else None,
            "tail_duration_s": stats.tail_s if stats else None,
            "max_duration_s": stats.max_s if stats else None,
            "tail_statistic": settings.tail_percentile,
            "latency_slo_s": settings.latency_slo_s,
            "concurrency": settings.worker_concurrency,
            "capacity_lead_s": settings.capacity_lead_s,
            "lead_time_weight": settings.lead_time_weight,
            "lookback_minutes": settings.lookback_minutes,
            **source,
        },
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    use_namespace(settings.namespace)
    logger.append_keys(fleet=settings.fleet_name, platform=settings.platform.value)
    decision = tune(settings, make_policy(settings), FleetMetrics(settings.namespace, settings.fleet_name))
    return {
        "action": decision.action.value,
        "current": decision.current,
        "target": decision.target,
        "ideal": decision.ideal,
        "reason": decision.reason,
        "dry_run": settings.dry_run,
        "applied": decision.changed and not settings.dry_run,
    }


# Fail the cold start, not the first run, when the configuration is wrong.
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    get_settings()
