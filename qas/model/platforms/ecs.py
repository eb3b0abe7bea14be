"""ECS as the model sees it: a service's desired count under Application Auto Scaling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qas.model.platforms.apis import PlatformApis
from queue_autoscaler.common.platform import Platform

if TYPE_CHECKING:
    from qas.model.control_config import ControlPlaneConfig


@dataclass(frozen=True)
class EcsModel:
    platform: Platform = Platform.ECS
    noun: str = "task"
    launch_hook: bool = False  # ECS counts a task as running once its container started
    termination_hook: bool = False  # SIGTERM and the stop timeout instead
    protection_expires: bool = True  # task protection expires; the worker renews it at half
    custom_metric_period: bool = False  # Application Auto Scaling has no Period for custom metrics
    instance_warmup: bool = False  # cooldowns instead
    warm_pool: bool = False
    step_may_raise_desired: bool = True  # docs/aws-behaviour.md#ecs-running-count
    apis: PlatformApis = field(
        default_factory=lambda: PlatformApis(
            "ecs:UpdateTaskProtection",
            "ecs:DescribeServices",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:PutScalingPolicy",
            "ecs:DescribeServices",
        )
    )

    def scales_out_from_zero(self, config: ControlPlaneConfig, desired: int) -> bool:
        """Target tracking at 0 scales out by 1 after a single datapoint above target."""
        # docs/aws-behaviour.md#ecs-from-zero
        return desired == 0 and config.ecs_scale_out_from_zero

    def scale_in_held(
        self, config: ControlPlaneConfig, now_s: float, last_out_s: float | None, last_in_s: float | None
    ) -> bool:
        """No scale-in within the scale-in cooldown of a scale-in or the scale-out cooldown of a
        scale-out."""
        # docs/aws-behaviour.md#ecs-cooldowns
        if last_in_s is not None and now_s < last_in_s + config.scale_in_cooldown_s:
            return True
        return last_out_s is not None and now_s < last_out_s + config.scale_out_cooldown_s

    def step_scale_in_cooldown_s(self, config: ControlPlaneConfig) -> float | None:
        # docs/aws-behaviour.md#aas-step-cooldown
        return config.step_cooldown_s


ECS = EcsModel()
