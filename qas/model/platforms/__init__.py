"""The platform seam of the model of AWS, the simulator and the demo: one object per platform.

What differs between an Auto Scaling group and an ECS service once the scaling resources exist
(target tracking from zero, what holds a scale-in back, step cooldowns, whether a step may raise the
desired count, lifecycle hooks, task protection's expiry, the API calls each part makes) is a member of
`ModelPlatform`, implemented once per platform in this package (`ec2`, `ecs`). `qas.model.control_plane`,
`qas.sim` and `qas.demo` ask it instead of branching on `Platform` (tests/architecture/test_platform_seam.py
checks that nothing else does). The Lambdas' side of the same seam is `queue_autoscaler.platforms`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from qas.model.platforms.apis import PlatformApis
from qas.model.platforms.ec2 import EC2
from qas.model.platforms.ecs import ECS
from queue_autoscaler.common.platform import Platform

if TYPE_CHECKING:
    from qas.model.control_config import ControlPlaneConfig


class ModelPlatform(Protocol):
    """One platform's behaviour as the model, the simulator and the demo need it."""

    @property
    def platform(self) -> Platform: ...

    @property
    def noun(self) -> str:
        """What one unit of capacity is called ("instance", "task")."""

    @property
    def launch_hook(self) -> bool:
        """A launch lifecycle hook can hold new capacity until its worker receives (EC2); without one
        the fleet counts a member as running once it started."""

    @property
    def termination_hook(self) -> bool:
        """A terminating member's worker heartbeats a termination lifecycle hook while it drains."""

    @property
    def protection_expires(self) -> bool:
        """Scale-in protection expires and a busy worker renews it (ECS task protection)."""

    @property
    def custom_metric_period(self) -> bool:
        """Target tracking accepts a custom metric's Period (10, 30 or 60 s); otherwise 60 s only."""

    @property
    def instance_warmup(self) -> bool:
        """Target tracking holds scale-in for new capacity's warm-up (EC2 DefaultInstanceWarmup);
        otherwise for its scale-out and scale-in cooldowns (ECS)."""

    @property
    def warm_pool(self) -> bool:
        """The fleet can keep a warm pool of pre-initialized capacity (an EC2 Auto Scaling feature)."""

    @property
    def step_may_raise_desired(self) -> bool:
        """A scale-in step counted from the running capacity sets the desired capacity even when that
        raises it (ECS); otherwise a step that is not below desired takes no action (EC2)."""

    @property
    def apis(self) -> PlatformApis: ...

    def scales_out_from_zero(self, config: ControlPlaneConfig, desired: int) -> bool:
        """Target tracking leaves a desired capacity of 0 by its own rule (one datapoint, +1)."""

    def scale_in_held(
        self, config: ControlPlaneConfig, now_s: float, last_out_s: float | None, last_in_s: float | None
    ) -> bool:
        """Target tracking's scale-in is held back at ``now_s`` (a warm-up or a cooldown)."""

    def step_scale_in_cooldown_s(self, config: ControlPlaneConfig) -> float | None:
        """How long a step policy's scale-in blocks its next one; None: no cooldown."""


MODEL_PLATFORMS: Mapping[Platform, ModelPlatform] = {p.platform: p for p in (EC2, ECS)}


def model_platform(platform: Platform) -> ModelPlatform:
    return MODEL_PLATFORMS[platform]
