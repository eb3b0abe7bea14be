"""The simulator hands the control-plane model what the metric publisher published: the lanes'
pressures computed with the target the publisher read, not recomputed with one the tuner set between
the publish and the alarm's evaluation (AWS's alarms evaluate the published datapoints)."""

from __future__ import annotations

from qas.sim.engine import EngineSettings, Simulation
from qas.sim.policies import Observation, SimFleet, StatsFor, Step, TargetTracking, our_backlog
from qas.sim.realism import Realism
from qas.sim.traces import Trace
from queue_autoscaler.scaling.estimate import RunningJobs

SETTINGS = SimFleet(slo_s=600, max_capacity=50, boot_s=60, concurrency=1, scale_in_lane=False)


def test_the_fast_lane_sees_the_pressure_published_with_the_target_read_then() -> None:
    policy = TargetTracking(SETTINGS, 4.0, "static", our_backlog)
    policy.plane.set_target(8.0)  # the tuner ran after the publisher
    obs = Observation(60.0, visible=20, in_flight=0, running=2, desired=2, oldest_age_s=0.0, target=4.0)
    # 20 / 2 = 10 per instance, published as 10 / 4 = 2.5: +100% of 2 (10 / 8 = 1.25 would add 1)
    assert policy.step(obs).desired == 4


def test_a_missed_sample_publishes_no_pressure() -> None:
    policy = TargetTracking(SETTINGS, 4.0, "static", our_backlog)
    obs = Observation(
        60.0, visible=20, in_flight=0, running=2, desired=2, oldest_age_s=0.0, missed=True, target=4.0
    )
    assert policy.step(obs).desired == 2


class _Doubler:
    """Holds its capacity; doubles its target at every tuner run; records what each step saw."""

    protects_busy = True
    tune_every_s = 300.0
    lookback_s = 600.0

    def __init__(self) -> None:
        self._target = 4.0
        self.seen: list[tuple[float, float | None, float]] = []

    @property
    def target(self) -> float:
        return self._target

    def step(self, obs: Observation) -> Step:
        self.seen.append((obs.now_s, obs.target, self._target))
        return Step(obs.desired, 0)

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None:
        self._target *= 2


def test_the_engine_publishes_with_the_target_in_force_when_the_publisher_runs() -> None:
    # The publisher runs at 300 s, then the tuner (same second); the alarm evaluates 30 s later
    controller = _Doubler()
    settings = EngineSettings(
        concurrency=1, boot_s=60.0, initial_running=1, drain_s=600, realism=Realism(metric_delay_s=30.0)
    )
    Simulation(Trace((0.0,), (2000.0,)), controller, settings, slo_s=600).run()  # type: ignore[arg-type]
    # (evaluated at, target the publisher read, target in force at the evaluation)
    assert (330.0, 4.0, 8.0) in controller.seen
    assert (270.0, 4.0, 4.0) in controller.seen
