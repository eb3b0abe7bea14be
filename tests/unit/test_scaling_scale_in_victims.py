"""Which instances go on scale-in: never a protected one; idle, then the oldest."""

from __future__ import annotations

from qas.model.scale_in_victims import InstanceView, plan_scale_in


def test_plan_scale_in_never_picks_protected_instances() -> None:
    fleet = [
        InstanceView("busy-old", protected=True, launched_at_s=0.0),
        InstanceView("idle-new", protected=False, launched_at_s=50.0),
        InstanceView("idle-old", protected=False, launched_at_s=10.0),
        InstanceView("booting", protected=False, launched_at_s=90.0, running=False),
    ]
    assert plan_scale_in(fleet, 2).terminate == ("booting", "idle-old")
    plan = plan_scale_in(fleet, 0)
    assert set(plan.terminate) == {"booting", "idle-old", "idle-new"}
    assert plan.blocked == 1
    assert plan_scale_in(fleet, 4).terminate == ()
    all_busy = [InstanceView(f"i-{n}", protected=True, launched_at_s=0.0) for n in range(3)]
    assert plan_scale_in(all_busy, 0) == plan_scale_in(all_busy, 0)
    assert plan_scale_in(all_busy, 1).blocked == 2
