"""Settings of the metric publisher, from the environment the template sets."""

from __future__ import annotations

import math
import re

from pydantic import Field, model_validator

from queue_autoscaler.common.regions import require_region
from queue_autoscaler.platforms import PLATFORMS, platform_of
from queue_autoscaler.platforms.settings import FleetSettings

# arn:<partition>:sqs:<region>:<account>:<name>, as the template's ExistingQueueArn pattern.
_QUEUE_ARN = re.compile(r"^arn:(aws[a-z-]*):sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,75}(\.fifo)?)$")
_URL_SUFFIX = {"aws-cn": "amazonaws.com.cn"}  # every other partition: amazonaws.com


def queue_url_from_arn(arn: str) -> str:
    """The URL SQS gives the queue of this ARN (the same URL the template builds for ExistingQueueArn)."""
    match = _QUEUE_ARN.match(arn.strip())
    if not match:
        raise ValueError(f"{arn!r} is not an SQS queue ARN")
    partition, region, account, name = match.group(1, 2, 3, 4)
    return f"https://sqs.{region}.{_URL_SUFFIX.get(partition, 'amazonaws.com')}/{account}/{name}"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class PublisherSettings(FleetSettings):
    queue_url: str = Field(alias="QUEUE_URL", min_length=1)
    # More queues the same fleet serves, after QUEUE_URL in priority order (comma-separated ARNs).
    extra_queue_arns: str = Field(default="", alias="EXTRA_QUEUE_ARNS")
    # Relative processing time of each queue's messages (1 = the fleet's average), QUEUE_URL first.
    queue_weights: str = Field(default="", alias="QUEUE_WEIGHTS")
    # Other fleets consuming the same queue (blue/green): ASG names, or ECS "cluster/service".
    peer_fleets: str = Field(default="", alias="PEER_FLEETS")
    # FIFO: the group cap needs the slots per instance and the current target.
    worker_concurrency: int = Field(default=1, alias="WORKER_CONCURRENCY", ge=1)
    # The target-tracking policy: ScaleOutPressure divides by its target, and the FIFO group cap is
    # expressed in it; unset: no pressure metric (and no FIFO).
    policy_name: str = Field(default="", alias="SCALING_POLICY_NAME")
    high_resolution: bool = Field(default=False, alias="HIGH_RESOLUTION")
    sample_interval_s: int = Field(default=10, alias="SAMPLE_INTERVAL_SECONDS", ge=1, le=60)

    @model_validator(mode="after")
    def _high_resolution_on_ec2_only(self) -> PublisherSettings:
        # A platform whose target tracking has no Period for custom metrics (ECS) would pay for
        # 10 s samples and never use them.
        if self.high_resolution and not platform_of(self.platform).high_resolution:
            able = " or ".join(str(p) for p, spec in PLATFORMS.items() if spec.high_resolution)
            message = f"HIGH_RESOLUTION=true is supported only with FLEET_PLATFORM={able}"
            raise ValueError(f"{message} ({self.platform} uses 60 s)")
        return self

    @model_validator(mode="after")
    def _lists_are_valid(self) -> PublisherSettings:
        for arn in _split(self.extra_queue_arns):
            if not _QUEUE_ARN.match(arn):
                raise ValueError(f"EXTRA_QUEUE_ARNS: {arn!r} is not an SQS queue ARN")
        try:
            weights = [float(w) for w in _split(self.queue_weights)]
        except ValueError:
            message = f"QUEUE_WEIGHTS: expected comma-separated numbers, got {self.queue_weights!r}"
            raise ValueError(message) from None
        if weights and len(weights) != len(self.queue_urls):
            raise ValueError(
                f"QUEUE_WEIGHTS has {len(weights)} values for {len(self.queue_urls)} queues (QUEUE_URL first)"
            )
        if any(not math.isfinite(w) or w <= 0 for w in weights):
            raise ValueError(f"QUEUE_WEIGHTS: every weight must be > 0, got {self.queue_weights!r}")
        if self.fleet_name in self.peers:
            raise ValueError(f"PEER_FLEETS names this fleet itself ({self.fleet_name!r})")
        if self.fifo and not self.policy_name:
            raise ValueError("SCALING_POLICY_NAME is required with a FIFO queue (the group cap needs it)")
        return self

    @model_validator(mode="after")
    def _queues_in_the_stack_region(self) -> PublisherSettings:
        require_region("QUEUE_URL", self.queue_url, self.region)
        for arn in _split(self.extra_queue_arns):
            require_region("EXTRA_QUEUE_ARNS", arn, self.region)
        return self

    @property
    def queue_urls(self) -> list[str]:
        """Every queue the fleet serves, in priority order."""
        return [self.queue_url, *(queue_url_from_arn(arn) for arn in _split(self.extra_queue_arns))]

    @property
    def weights(self) -> list[float]:
        return [float(w) for w in _split(self.queue_weights)] or [1.0] * len(self.queue_urls)

    @property
    def peers(self) -> list[str]:
        return _split(self.peer_fleets)

    @property
    def fifo(self) -> bool:
        return any(url.endswith(".fifo") for url in self.queue_urls)

    @property
    def samples_per_invocation(self) -> int:
        """High resolution: one sample per interval over the minute until the next invocation."""
        return max(1, 60 // self.sample_interval_s) if self.high_resolution else 1
