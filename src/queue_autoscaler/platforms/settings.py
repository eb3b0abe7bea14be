"""Which fleet a function looks at: the settings every fleet-reading Lambda shares, checked against
what its platform needs (`queue_autoscaler.platforms`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from queue_autoscaler.common.platform import Platform
from queue_autoscaler.common.settings import NamespaceSettings
from queue_autoscaler.platforms import platform_of


class FleetSettings(NamespaceSettings):
    """Which fleet the function looks at: an Auto Scaling group or an ECS service."""

    platform: Platform = Field(alias="FLEET_PLATFORM")
    fleet_name: str = Field(alias="FLEET_NAME", min_length=1)
    ecs_cluster: str = Field(default="", alias="ECS_CLUSTER")

    @model_validator(mode="after")
    def _cluster_when_needed(self) -> FleetSettings:
        if platform_of(self.platform).needs_cluster and not self.ecs_cluster:
            raise ValueError(f"ECS_CLUSTER is required when FLEET_PLATFORM is {self.platform}")
        return self
