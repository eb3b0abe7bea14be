"""KeepWarm holds one instance whatever target tracking's scale-in arithmetic: that arithmetic is
documented only as rounding "conservatively", so with KeepWarm its scale-in is off, the scale-in lane
brings the fleet down to one, and the shutdown alarm takes the last one after KeepWarmMinutes of an
empty queue (template KeepWarm)."""

from __future__ import annotations

import math

import pytest

from qas.model.control_plane import ControlPlane, PeriodInput, Source
from qas.sim.engine import EngineSettings, SimResult, Simulation
from qas.sim.policies import SimFleet, TargetTracking, make_controller
from qas.sim.traces import Trace

# Cold start 60 + 180 s against a 300-s SLO: KeepWarm (auto)
FLEET = SimFleet(slo_s=300, max_capacity=10, boot_s=180, concurrency=1)


def trickle() -> Trace:
    """One 30-s job every 5 minutes for three hours: the queue is never empty for KeepWarmMinutes,
    and BacklogPerInstance stays far below the target."""
    arrivals = tuple(float(t) for t in range(0, 3 * 3600, 300))
    return Trace(arrivals, tuple([30.0] * len(arrivals)))


def run() -> tuple[SimResult, TargetTracking]:
    controller = make_controller("tuned", FLEET, expected_mean_s=30.0)
    assert isinstance(controller, TargetTracking) and FLEET.keeps_warm
    engine = EngineSettings(concurrency=1, boot_s=FLEET.boot_s, drain_s=3600)
    return Simulation(trickle(), controller, engine, FLEET.slo_s).run(), controller


def floor_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Suppose target tracking rounded a scale-in DOWN (floor of running x metric / target): nothing
    AWS documents rules it out."""
    original = ControlPlane._target_tracking

    def rounded_down(self: ControlPlane, period: PeriodInput) -> tuple[Source, int, str] | None:
        proposal = original(self, period)
        low = self._low_state().value == "ALARM" and period.metric is not None
        if proposal is None and low and period.desired > 0:
            wanted = math.floor(max(1, period.running) * (period.metric or 0.0) / self.target)
            if wanted < period.desired:
                return (Source.TARGET_TRACKING, self._clamp(wanted), "rounded down")
        return proposal

    monkeypatch.setattr(ControlPlane, "_target_tracking", rounded_down)


def test_keep_warm_holds_one_instance_whatever_target_tracking_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    floor_rounding(monkeypatch)
    result, controller = run()
    # The warm instance stays through the trickle: only the first message paid a cold start
    assert all(p.desired >= 1 for p in result.timeline if 60 <= p.t_s <= 3 * 3600)
    assert controller.activity[Source.TARGET_TRACKING, False] == 0
    assert result.slo_attainment == 1.0 and result.lost == 0
    # and the shutdown alarm takes it after the last message, once
    assert controller.activity[Source.SHUTDOWN, False] == 1
    assert result.timeline[-1].desired == 0


def test_the_lane_still_scales_a_keep_warm_fleet_in() -> None:
    # A burst of 40 jobs of 10 minutes into the warm fleet, then the trickle again: the lane (not target
    # tracking) brings the fleet back to one instance.
    burst = Trace(tuple([0.0] * 40), tuple([600.0] * 40))
    controller = make_controller("tuned", FLEET, expected_mean_s=600.0)
    assert isinstance(controller, TargetTracking)
    engine = EngineSettings(concurrency=1, boot_s=FLEET.boot_s, drain_s=3600)
    result = Simulation(burst, controller, engine, FLEET.slo_s).run()
    assert result.peak_capacity > 1
    assert controller.activity[Source.SCALE_IN_LANE, False] > 0
    assert controller.activity[Source.TARGET_TRACKING, False] == 0
