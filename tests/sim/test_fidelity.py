"""Scenarios with known answers, run through the whole simulator (engine + control plane)."""

from __future__ import annotations

from qas.sim.engine import EngineSettings, SimResult, Simulation
from qas.sim.policies import (
    Observation,
    SimFleet,
    Step,
    TargetTracking,
    our_backlog,
    visible_per_in_service,
)
from qas.sim.runner import simulate
from qas.sim.traces import Trace


def run(trace: Trace, controller, concurrency: int = 1, boot_s: float = 60.0, initial: int = 0) -> SimResult:
    settings = EngineSettings(concurrency=concurrency, boot_s=boot_s, initial_running=initial, drain_s=7200)
    return Simulation(trace, controller, settings, slo_s=600).run()


def test_aws_worked_example_grows_ten_instances_to_fifteen() -> None:
    # Given 10 running instances and 1,510 messages (10 in flight, 1,500 visible) that stay queued
    trace = Trace(tuple([0.0] * 1510), tuple([5000.0] * 1510))
    fleet = SimFleet(slo_s=600, max_capacity=50, boot_s=60, concurrency=1, fast_lane=False)
    controller = TargetTracking(fleet, 100.0, "static", visible_per_in_service)
    result = run(trace, controller, initial=10)
    desired = [p.desired for p in result.timeline[:4]]
    # Then the metric is 150 and the third datapoint takes the group to ceil(10 * 150 / 100) = 15
    # (target tracking alone: the fast lane, which reacts on one datapoint, is off)
    assert result.timeline[0].visible == 1500
    assert desired == [10, 10, 15, 15]


def test_one_message_into_an_empty_fleet_starts_an_instance_and_completes() -> None:
    trace = Trace((5.0,), (30.0,))
    fleet = SimFleet(slo_s=600, max_capacity=5, boot_s=60, concurrency=1)
    # The target (>= 1) is never exceeded by one message: only the bootstrap alarm can start it.
    result = simulate(trace, "tuned", fleet, record_timeline=True)
    assert result.completed == 1 and result.lost == 0
    assert result.peak_capacity == 1
    # Bootstrap at the first datapoint (t=60), boot 60 s, 30 s of work: done at t=150.
    assert result.latency_p50_s == 150 - 5
    assert result.timeline[-1].desired == 0  # and it went back to zero afterwards


def test_scale_out_waits_for_three_one_minute_datapoints() -> None:
    trace = Trace(tuple([0.0] * 200), tuple([1000.0] * 200))
    fleet = SimFleet(slo_s=600, max_capacity=50, boot_s=60, concurrency=1, fast_lane=False)
    result = run(trace, TargetTracking(fleet, 10.0, "static", our_backlog), initial=1)
    first_change = next(p.t_s for p in result.timeline if p.desired != 1)
    assert first_change == 180.0
    assert result.timeline[2].desired == 20  # ceil(200 / 10)


class _DropToZeroAt:
    """Asks for 0 at ``at_s`` whatever the queue holds: scale-in must still spare busy workers."""

    protects_busy = True
    tune_every_s = 3600.0
    lookback_s = 3600.0

    def __init__(self, at_s: float, start: int) -> None:
        self.at_s, self.start = at_s, start

    @property
    def target(self) -> float | None:
        return None

    def step(self, obs: Observation) -> Step:
        new = 0 if obs.now_s >= self.at_s else self.start
        return Step(new, int(new != obs.desired))

    def retune(self, stats_for: object, running: object) -> None:
        return None


def test_nothing_busy_is_scaled_in_while_protected() -> None:
    # Given 3 instances, two of them busy with 400 s messages, when desired drops to 0 at t=120
    trace = Trace((0.0, 0.0), (400.0, 400.0))
    result = run(trace, _DropToZeroAt(120.0, 3), initial=3)
    # Then both messages complete on their first delivery; the idle instance went at t=120,
    # the busy ones when their work ended (400 s each): 120 + 400 + 400 instance-seconds.
    assert result.completed == 2 and result.redeliveries == 0
    assert result.instance_seconds == 120 + 400 + 400


def test_without_protection_busy_workers_are_killed_and_messages_come_back() -> None:
    trace = Trace((0.0, 0.0), (400.0, 400.0))
    controller = _DropToZeroAt(120.0, 3)
    controller.protects_busy = False
    result = run(trace, controller, initial=3)
    assert result.redeliveries == 2
    assert result.lost == 2  # nothing is running to take them back: desired stays 0


def test_every_message_is_accounted_for_and_cost_is_at_least_the_work() -> None:
    from qas.sim import traces

    trace = traces.steady(0.5, 1800, traces.lognormal(10, 0.5), seed=3)
    fleet = SimFleet(slo_s=300, max_capacity=10, boot_s=60, concurrency=2)
    for policy in ("tuned", "static-3", "keda-5"):
        result = simulate(trace, policy, fleet)
        assert result.completed + result.lost == result.messages == len(trace)
        assert result.lost == 0
        assert result.instance_seconds >= result.work_seconds
        assert 0 <= result.slo_attainment <= 1
        assert result.latency_p50_s <= result.latency_p95_s <= result.latency_p99_s
    # Deterministic: the same inputs give the same answer.
    assert simulate(trace, "tuned", fleet).summary() == simulate(trace, "tuned", fleet).summary()


def test_the_tuner_lowers_the_target_when_processing_slows_down() -> None:
    from qas.sim import traces

    sampler = traces.switch_at(1800, traces.lognormal(10, 0.2), traces.lognormal(40, 0.2))
    trace = traces.steady(1.0, 3600, sampler, seed=5)
    fleet = SimFleet(slo_s=600, max_capacity=40, boot_s=60, concurrency=4)
    result = simulate(trace, "tuned", fleet, record_timeline=True)
    before = [p.target for p in result.timeline if 1500 <= p.t_s < 1800]
    after = [p.target for p in result.timeline if 3000 <= p.t_s < 3600]
    assert before and after
    assert max(t for t in after if t is not None) < min(t for t in before if t is not None) / 2
