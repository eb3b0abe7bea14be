"""Fleet rollout: after a completed stack update, refresh instances left on an old launch template
version (a new WorkerImageTag), safely for busy workers (scaling.rollout).

Triggered by the EventBridge "CloudFormation Stack Status Change" event of the stack and by the
group's "EC2 Auto Scaling Instance Refresh Succeeded" (the next refresh, when one was refused as
already in progress); by hand with `aws lambda invoke`. Why the stack's event and not the group's:
docs/aws-behaviour.md#eb-cfn-status-change; why a refresh after the running one:
docs/aws-behaviour.md#ir-skip-matching.
AWS calls: autoscaling:DescribeAutoScalingGroups, autoscaling:StartInstanceRefresh.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from queue_autoscaler.adapters.failures import fail_loudly
from queue_autoscaler.adapters.rollout import AsgRollout
from queue_autoscaler.common.observability import logger, tracer
from queue_autoscaler.common.settings import load_settings
from queue_autoscaler.platforms.settings import FleetSettings
from queue_autoscaler.scaling.rollout import PREFERENCES, outdated, rollout_reason, skipped_because


@cache
def get_settings() -> FleetSettings:
    return load_settings(FleetSettings)


def roll_out(rollout: AsgRollout, event: dict[str, Any]) -> dict[str, Any]:
    reason = rollout_reason(event)
    if reason is None:
        result: dict[str, Any] = {"skipped": skipped_because(event)}
        logger.info("no rollout for this event", extra=result)
        return result
    with fail_loudly("read worker group"):
        state = rollout.state()
    stale = outdated(state.version, state.instances)
    result = {"reason": reason, "version": state.version, "outdated": list(stale), "refresh_id": None}
    if not stale:
        logger.info("fleet is on the current launch template", extra=result)
        return result
    with fail_loudly("start instance refresh"):
        result["refresh_id"] = rollout.start_refresh(PREFERENCES)
    if result["refresh_id"] is None:
        # No busy loop: the running refresh's "Succeeded" event invokes this function again.
        result["deferred"] = "an instance refresh is running; the next one starts when it succeeds"
        logger.warning("instance refresh deferred", extra=result)
    else:
        logger.info("instance refresh started", extra=result)
    return result


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    logger.append_keys(fleet=settings.fleet_name, trigger=event.get("detail-type", "direct"))
    return roll_out(AsgRollout(settings.fleet_name), event)


# Fail the cold start, not the first run, when the configuration is wrong.
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    get_settings()
