"""Target tuner: measured processing durations + the latency SLO -> the policy's TargetValue.

One run is `scaling.tuning.tune_target`: the lookback widens until it holds MIN_SAMPLES completions,
the running jobs correct the mean (survivor bias), the formula decides, and the SLO guard lowers the
target when the oldest message (AWS/SQS ApproximateAgeOfOldestMessage) is too old, or the visible
messages take too long to start, on a settled fleet. The durations come from the worker's
MsgProcessingDuration; when no worker publishes it (a consumer of your own), from the queue's
statistics by Little's law (scaling.service_time). The decision log says which (`duration_source`).

AWS calls: cloudwatch:GetMetricStatistics (our namespace and AWS/SQS), cloudwatch:GetMetricData (how
long the fleet has been settled), cloudwatch:PutMetricData, and
autoscaling:DescribePolicies + autoscaling:PutScalingPolicy (EC2) or
application-autoscaling:DescribeScalingPolicies + application-autoscaling:PutScalingPolicy (ECS;
the put also needs cloudwatch:DescribeAlarms/PutMetricAlarm/DeleteAlarms and
ecs:DescribeServices/UpdateService, which Application Auto Scaling calls on the caller's behalf).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from queue_autoscaler.adapters.failures import fail_loudly
from queue_autoscaler.adapters.fleet import TargetPolicy
from queue_autoscaler.adapters.metrics import FleetMetrics, oldest_message_age
from queue_autoscaler.common.observability import logger, metrics, tracer, use_namespace
from queue_autoscaler.common.settings import load_settings
from queue_autoscaler.platforms import make_target_policy
from queue_autoscaler.scaling.estimate import RunningJobs
from queue_autoscaler.scaling.policy_spec import METRICS
from queue_autoscaler.scaling.service_time import estimate_service_time
from queue_autoscaler.scaling.slo_guard import QueueAge, is_settled
from queue_autoscaler.scaling.target import DurationStats, TargetDecision
from queue_autoscaler.scaling.tuning import TunerRun, tune_target
from queue_autoscaler.target_tuner.settings import TunerSettings

# A day: a fleet settled that long is blamed for a day of the wait, far past any SLO.
MAX_SETTLED_WINDOW_MINUTES = 1440  # docs/aws-behaviour.md#cw-get-metric-data-limits


@cache
def get_settings() -> TunerSettings:
    return load_settings(TunerSettings)


def make_policy(settings: TunerSettings) -> TargetPolicy:
    return make_target_policy(settings, settings.policy_name)


def duration_reader(
    settings: TunerSettings, fleet_metrics: FleetMetrics, now: datetime, source: dict[str, str]
) -> Callable[[int], DurationStats | None]:
    """stats_for(minutes): the completed durations of the last `minutes` (the lookback's seam): the
    worker's MsgProcessingDuration, else the Little's-law estimate; `source` records which."""

    def stats_for(minutes: int) -> DurationStats | None:
        with fail_loudly("read processing durations"):
            stats = fleet_metrics.duration_stats(now, minutes, settings.tail_percentile)
        if stats is not None:
            source.update(duration_source=METRICS.processing_duration, duration_source_reason="")
            return stats
        if not settings.queue_name:
            source.update(
                duration_source="none", duration_source_reason="no MsgProcessingDuration, no QUEUE_NAME"
            )
            return None
        with fail_loudly("read queue statistics"):
            intervals = fleet_metrics.queue_intervals(now, minutes, settings.queue_name)
        estimate = estimate_service_time(intervals, settings.min_samples)
        source.update(
            duration_source="littles_law" if estimate.stats else "none",
            duration_source_reason=f"no MsgProcessingDuration; {estimate.reason}",
        )
        return estimate.stats

    return stats_for


def read_running_jobs(fleet_metrics: FleetMetrics, now: datetime) -> RunningJobs:
    with fail_loudly("read running jobs"):
        return fleet_metrics.running_jobs(now)


def read_queue_age(settings: TunerSettings, fleet_metrics: FleetMetrics, now: datetime) -> QueueAge | None:
    """The oldest message's age, whether the fleet had what it asked for and for how long; None: no
    age datapoint."""
    if settings.queue_name is None:
        return None
    with fail_loudly("read queue age"):
        newest = oldest_message_age(settings.queue_name, now, fleet_metrics.client)
        if newest is None:
            return None
        age_minute, age = newest[0], max(0.0, newest[1])
        running = fleet_metrics.latest(METRICS.running, now)
        desired = fleet_metrics.latest(METRICS.desired, now)
        visible = fleet_metrics.latest(METRICS.visible, now)
        settled = is_settled(running, desired)
        # Only the part of the age spent on a settled fleet is blamed on the target: the age bounds
        # the minutes worth reading, counted back from the age datapoint's own minute (it may be a few
        # minutes old: a fleet that settled after it says nothing about that age). Unsettled: the
        # guard ignores the age, so nothing more is read.
        settled_for_s = None
        if settled:
            window = min(MAX_SETTLED_WINDOW_MINUTES, math.ceil(age / 60) + 1)
            age_end = min(now, age_minute + timedelta(minutes=1))
            settled_for_s = 60.0 * fleet_metrics.settled_minutes(age_end, window)
    return QueueAge(
        oldest_age_s=age,
        settled=settled,
        visible=round(visible or 0),  # with the mean: how long the waiting messages take to start
        running=round(running or 0),
        settled_for_s=settled_for_s,
    )


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
    source: dict[str, str] = {}
    stats_for = duration_reader(settings, fleet_metrics, now, source)
    age = read_queue_age(settings, fleet_metrics, now)
    run = tune_target(current, stats_for, read_running_jobs(fleet_metrics, now), age, settings.policy)
    decision = run.decision
    log_decision(settings, run, age, source)
    if settings.fleet_attached:
        logger.info(attached_source_line(source), extra={"fleet_attached": True, **source})

    in_force = current
    if decision.changed and not settings.dry_run:
        with fail_loudly("update scaling policy"):
            policy.set_target(decision.target)
        in_force = decision.target
    metrics.add_metric(name="TargetUpdates", unit=MetricUnit.Count, value=1 if in_force != current else 0)
    with fail_loudly("publish target"):
        fleet_metrics.put({METRICS.target: in_force}, now)
    return decision


def attached_source_line(source: dict[str, str]) -> str:
    """What an attached fleet's tuner run says about its durations: the consumer's own
    MsgProcessingDuration (it runs our worker) or the queue's statistics (Little's law)."""
    used = source.get("duration_source", "none")
    if used == METRICS.processing_duration:
        return "attached fleet: durations from the consumer's MsgProcessingDuration"
    if used == "littles_law":
        return (
            "attached fleet: no MsgProcessingDuration from the consumer; "
            "durations from the queue (Little's law)"
        )
    return "attached fleet: no MsgProcessingDuration and too little queue data; the target stays"


def log_decision(
    settings: TunerSettings, run: TunerRun, age: QueueAge | None, source: dict[str, str]
) -> None:
    decision, measured, planned = run.decision, run.measured, run.planned
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
            "samples": measured.samples if measured else 0,
            "lookback_minutes": run.lookback_minutes,
            "mean_duration_s": measured.mean_s if measured else None,
            "tail_duration_s": measured.tail_s if measured else None,
            "max_duration_s": measured.max_s if measured else None,
            # After counting the running jobs: what the formula used.
            "planned_mean_duration_s": planned.mean_s if planned else None,
            "planned_tail_duration_s": planned.tail_estimate() if planned and planned.mean_s > 0 else None,
            "oldest_message_age_s": age.oldest_age_s if age else None,
            "fleet_settled": age.settled if age else None,
            "fleet_settled_for_s": age.settled_for_s if age else None,
            "slo_guard_acted": run.formula != run.decision,
            "tail_statistic": settings.tail_percentile,
            "latency_slo_s": settings.latency_slo_s,
            "concurrency": settings.worker_concurrency,
            "capacity_lead_s": settings.capacity_lead_s,
            "lead_time_weight": settings.lead_time_weight,
            "max_lookback_minutes": settings.max_lookback_minutes,
            "slo_guard_share": settings.slo_guard_share,
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
