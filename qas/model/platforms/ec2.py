"""EC2 Auto Scaling as the model sees it: an Auto Scaling group with lifecycle hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qas.model.platforms.apis import PlatformApis
from queue_autoscaler.common.platform import Platform

if TYPE_CHECKING:
    from qas.model.control_config import ControlPlaneConfig


@dataclass(frozen=True)
class Ec2Model:
    platform: Platform = Platform.EC2
    noun: str = "instance"
    launch_hook: bool = True
    termination_hook: bool = True
    protection_expires: bool = False  # instance protection lasts until the worker lifts it
    custom_metric_period: bool = True
    instance_warmup: bool = True
    warm_pool: bool = True
    # A step that is not below desired takes no action (docs/aws-behaviour.md#step-current-capacity).
    step_may_raise_desired: bool = False
    apis: PlatformApis = field(
        default_factory=lambda: PlatformApis(
            "autoscaling:SetInstanceProtection",
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribePolicies",
            "autoscaling:PutScalingPolicy",
            None,
        )
    )

    def scales_out_from_zero(self, config: ControlPlaneConfig, desired: int) -> bool:
        return False  # from 0, the high alarm's three datapoints as at any other capacity

    def scale_in_held(
        self, config: ControlPlaneConfig, now_s: float, last_out_s: float | None, last_in_s: float | None
    ) -> bool:
        """No target-tracking scale-in while the last scale-out's instances warm up."""
        # docs/aws-behaviour.md#tt-warmup
        return last_out_s is not None and now_s < last_out_s + config.instance_warmup_s

    def step_scale_in_cooldown_s(self, config: ControlPlaneConfig) -> float | None:
        return None  # EC2 step policies have no cooldown


EC2 = Ec2Model()
