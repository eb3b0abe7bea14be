"""Settings of the metric publisher, from the environment the template sets."""

from __future__ import annotations

from pydantic import Field, model_validator

from common.settings import FleetSettings, Platform


class PublisherSettings(FleetSettings):
    queue_url: str = Field(alias="QUEUE_URL", min_length=1)
    high_resolution: bool = Field(default=False, alias="HIGH_RESOLUTION")
    sample_interval_s: int = Field(default=10, alias="SAMPLE_INTERVAL_SECONDS", ge=1, le=60)
    # The target-tracking policy whose target ScaleOutPressure divides by; unset: no pressure metric.
    policy_name: str | None = Field(default=None, alias="SCALING_POLICY_NAME", min_length=1)

    @model_validator(mode="after")
    def _high_resolution_on_ec2_only(self) -> PublisherSettings:
        # Application Auto Scaling (ECS) has no Period for custom metrics: 10 s samples would be
        # paid for and never used.
        if self.high_resolution and self.platform is Platform.ECS:
            raise ValueError("HIGH_RESOLUTION=true is supported only with FLEET_PLATFORM=EC2 (ECS uses 60 s)")
        return self

    @property
    def samples_per_invocation(self) -> int:
        """High resolution: one sample per interval over the minute until the next invocation."""
        return max(1, 60 // self.sample_interval_s) if self.high_resolution else 1
