"""boto3 clients: created lazily on first use, cached, with botocore's standard retry mode.

Never created at import, so tests make them inside their moto mock (call `reset_clients()`
between tests) and a cold start pays only for the clients it uses. boto3 itself honours
AWS_ENDPOINT_URL (an emulator), AWS_REGION and AWS_MAX_ATTEMPTS (standard mode default: 3).
Every client is in the function's own region: the settings refuse a queue elsewhere (common.regions
says why; docs/aws-behaviour.md#sqs-client-region), so no client needs another.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_sqs import SQSClient

# Standard mode retries throttling and transient errors with backoff; the attempt count is left
# to AWS_MAX_ATTEMPTS (botocore reads it when the config does not set one).
CLIENT_CONFIG = Config(
    retries={"mode": "standard"},
    connect_timeout=5,
    read_timeout=15,
    user_agent_extra="queue-autoscaler",
)


@cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=CLIENT_CONFIG)


@cache
def autoscaling() -> AutoScalingClient:
    return boto3.client("autoscaling", config=CLIENT_CONFIG)


@cache
def ecs() -> ECSClient:
    return boto3.client("ecs", config=CLIENT_CONFIG)


@cache
def application_autoscaling() -> ApplicationAutoScalingClient:
    return boto3.client("application-autoscaling", config=CLIENT_CONFIG)


@cache
def cloudwatch() -> CloudWatchClient:
    return boto3.client("cloudwatch", config=CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget every cached client (tests: so the next ones are made inside the current mock)."""
    for factory in (sqs, autoscaling, ecs, application_autoscaling, cloudwatch):
        factory.cache_clear()
