"""boto3 clients with botocore's standard retry mode; an optional per-operation call counter."""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from worker.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_sqs import SQSClient

# The region an SQS queue URL names: sqs.<region>.amazonaws.com (also through a VPC endpoint,
# vpce-....sqs.<region>.vpce.amazonaws.com), the legacy <region>.queue.amazonaws.com, and
# queue.amazonaws.com, which is us-east-1. The Lambdas read it the same way (common.regions).
_QUEUE_URL_REGION = re.compile(
    r"^https://(?:(?:vpce-[a-z0-9-]+\.)?sqs\.(?P<sqs>[a-z0-9-]+)\.(?:vpce\.)?"
    r"|(?P<legacy>[a-z0-9-]+)\.queue\.|queue\.)amazonaws\.com(?:\.cn)?/"
)
# Auto Scaling calls (scale-in protection, lifecycle actions) are small: short timeouts bound how
# long one call can hold the termination heartbeats (worker/termination.py).
AUTOSCALING_CONNECT_SECONDS = 5
AUTOSCALING_READ_SECONDS = 10
# botocore's standard retry mode: 3 attempts unless AWS_MAX_ATTEMPTS says otherwise, with a random
# backoff of at most 2 ** (attempt - 1) s between them.
STANDARD_ATTEMPTS = 3


def autoscaling_call_worst_seconds(attempts: int = STANDARD_ATTEMPTS) -> float:
    """The longest one Auto Scaling call can take before it fails for good."""
    per_attempt = AUTOSCALING_CONNECT_SECONDS + AUTOSCALING_READ_SECONDS
    return attempts * per_attempt + sum(2.0**n for n in range(attempts - 1))


@dataclass
class ApiCallCounter:
    """Counts completed API calls by `service.Operation` (the benchmark reads it from the log)."""

    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, model: Any = None, **_: Any) -> None:
        if model is None:
            return
        with self._lock:
            self.counts[f"{model.service_model.service_name}.{model.name}"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


@dataclass(frozen=True)
class Clients:
    sqs: SQSClient
    housekeeping_sqs: SQSClient  # heartbeats, deletes, releases
    cloudwatch: CloudWatchClient
    autoscaling: AutoScalingClient
    ecs: ECSClient  # the rollout watch's DescribeServices
    counter: ApiCallCounter | None


def make_clients(settings: Settings) -> Clients:
    session = boto3.session.Session()
    region = session.region_name or queue_region(settings.queue_url)
    if not region:
        raise SettingsError("AWS_REGION", "not set, and QUEUE_URL does not name a region")
    _require_queues_in(region, settings)
    counter: ApiCallCounter | None = None
    if settings.count_api_calls:
        counter = ApiCallCounter()
        session.events.register("after-call", counter)
    # Standard mode; the attempt count stays botocore's (3) unless AWS_MAX_ATTEMPTS says otherwise.
    retries: Any = {"mode": "standard"}
    # A long poll holds the connection for WaitTimeSeconds: the read timeout must outlast it.
    sqs_config = Config(retries=retries, connect_timeout=5, read_timeout=settings.wait_time_seconds + 15)
    # Heartbeats, deletes and releases are retried by worker/lease.py itself (every tick, or with
    # backoff): one attempt per call, and a timeout well inside half a lease, so that a lost answer
    # never holds the heartbeater for longer than the lease has left.
    lease_timeout = max(1.0, min(10.0, settings.visibility_timeout / 4))
    lease_config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=lease_timeout,
        read_timeout=lease_timeout,
    )
    # PutMetricData is not idempotent: a retry after a lost answer counts an interval twice (273
    # MessagesProcessed for 120 processed in the fault-injection run). One attempt; worker/metrics.py
    # decides what a failure means.
    metrics_config = Config(
        retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=10
    )
    return Clients(
        sqs=session.client("sqs", region_name=region, config=sqs_config),
        housekeeping_sqs=session.client("sqs", region_name=region, config=lease_config),
        cloudwatch=session.client("cloudwatch", region_name=region, config=metrics_config),
        autoscaling=session.client(
            "autoscaling",
            region_name=region,
            config=Config(
                retries=retries,
                connect_timeout=AUTOSCALING_CONNECT_SECONDS,
                read_timeout=AUTOSCALING_READ_SECONDS,
            ),
        ),
        ecs=session.client(
            "ecs", region_name=region, config=Config(retries=retries, connect_timeout=5, read_timeout=10)
        ),
        counter=counter,
    )


def queue_region(queue_url: str) -> str | None:
    """The region an SQS queue URL names; None for other URLs (an emulator's)."""
    match = _QUEUE_URL_REGION.match(queue_url.strip())
    if not match:
        return None
    return match.group("sqs") or match.group("legacy") or "us-east-1"


def _require_queues_in(region: str, settings: Settings) -> None:
    """Every queue in the worker's own region. botocore sends a call to the client's regional
    endpoint whatever region the QueueUrl names, so a queue elsewhere answers "does not exist";
    and the template's SLO alarm cannot watch another region's AWS/SQS metrics, so the stack
    rejects such queues instead of serving them halfway (docs/deploy.md;
    docs/aws-behaviour.md#sqs-client-region)."""
    for variable, urls in (("QUEUE_URL", (settings.queue_url,)), ("WORKER_QUEUE_URLS", settings.queue_urls)):
        for url in urls:
            elsewhere = queue_region(url)
            if elsewhere is not None and elsewhere != region:
                raise SettingsError(
                    variable,
                    f"{url} is in {elsewhere}, but this worker runs in {region} (AWS_REGION): deploy the"
                    " stack in the queue's region",
                )
