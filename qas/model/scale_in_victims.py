"""Which instances go when the fleet is scaled in: AWS's default, for the simulator and the demo.

Pure: `qas.model.control_plane` decides how many; this module decides which, as an Auto Scaling group
or an ECS service would (never a scale-in-protected one).

Stable API::

    plan = plan_scale_in([InstanceView("i-1", protected=True, launched_at_s=0.0, running=True), ...],
                         new_desired=0)
    plan.terminate        # tuple[str, ...]: ids to terminate now
    plan.blocked          # int: how many more should go but are protected
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceView:
    """One instance (EC2) or task (ECS) as scale-in sees it."""

    instance_id: str
    protected: bool
    launched_at_s: float
    running: bool = True  # False while still booting (pending)


@dataclass(frozen=True)
class ScaleInPlan:
    terminate: tuple[str, ...]
    blocked: int  # excess instances that stay because they are protected


def plan_scale_in(instances: Iterable[InstanceView], new_desired: int) -> ScaleInPlan:
    """Which instances go when the fleet is above ``new_desired``.

    AWS never picks a protected instance; the desired capacity still drops, and the excess goes
    once protection is removed (call again then). Among unprotected ones: pending first (they do no
    work yet), then the oldest launch (the default policy's last tie-breakers vary; this one is
    deterministic).
    """
    if new_desired < 0:
        raise ValueError("new_desired must be >= 0")
    fleet = list(instances)
    excess = len(fleet) - new_desired
    if excess <= 0:
        return ScaleInPlan((), 0)
    candidates = sorted(
        (i for i in fleet if not i.protected), key=lambda i: (i.running, i.launched_at_s, i.instance_id)
    )
    chosen = tuple(i.instance_id for i in candidates[:excess])
    return ScaleInPlan(chosen, excess - len(chosen))
