"""Each AWS effect of `qas.sim.realism` does what AWS documents, through the whole simulator."""

from __future__ import annotations

import pytest

from qas.model.control_plane import Platform
from qas.sim import traces
from qas.sim.engine import EngineSettings, SimResult, Simulation
from qas.sim.policies import Observation, SimFleet, StatsFor, Step, TargetTracking, our_backlog
from qas.sim.realism import IDEAL, Realism, preset
from qas.sim.runner import simulate
from qas.sim.traces import Trace
from queue_autoscaler.scaling.estimate import RunningJobs

# Target tracking alone (the fast lane reacts on one datapoint and would blur these timings).
FLEET = SimFleet(slo_s=600, max_capacity=50, boot_s=60, concurrency=1, fast_lane=False, scale_in_lane=False)


def run(
    trace: Trace, controller: object, realism: Realism = IDEAL, initial: int = 0, period_s: float = 60.0
) -> SimResult:
    settings = EngineSettings(
        concurrency=1, boot_s=60.0, initial_running=initial, drain_s=7200, realism=realism, period_s=period_s
    )
    return Simulation(trace, controller, settings, slo_s=600).run()  # type: ignore[arg-type]


def first_change(result: SimResult, start: int) -> float:
    return next(p.t_s for p in result.timeline if p.desired != start)


def _queued(n: int = 200, at_s: float = 0.0, processing_s: float = 1000.0) -> Trace:
    return Trace(tuple([at_s] * n), tuple([processing_s] * n))


class _Recorder:
    """Holds its capacity and records what the engine hands it."""

    protects_busy = True
    tune_every_s = 300.0
    lookback_s = 600.0

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.observations: list[Observation] = []
        self.elapsed: list[list[float]] = []

    @property
    def target(self) -> float | None:
        return None

    def step(self, obs: Observation) -> Step:
        self.observations.append(obs)
        return Step(self.capacity, int(self.capacity != obs.desired))

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None:
        self.elapsed.append([running.count, running.elapsed_total_s])


@pytest.mark.parametrize("delay_s", [7.0, 25.0, 95.0])
def test_a_delayed_datapoint_delays_the_scale_out_by_that_much(delay_s: float) -> None:
    ideal = run(_queued(), TargetTracking(FLEET, 10.0, "static", our_backlog), initial=1)
    late = run(
        _queued(),
        TargetTracking(FLEET, 10.0, "static", our_backlog),
        Realism(metric_delay_s=delay_s),
        initial=1,
    )
    assert first_change(ideal, 1) == 180.0  # the third one-minute datapoint
    assert first_change(late, 1) == 180.0 + delay_s
    assert late.timeline[2].desired == ideal.timeline[2].desired == 20


def _waiting(t: float, missed: bool = False) -> Observation:
    return Observation(t, visible=200, in_flight=0, running=1, desired=1, oldest_age_s=t, missed=missed)


def test_a_missing_datapoint_stops_target_tracking() -> None:
    # Given one datapoint above the target, then none (the engine's desired stays 1). While that
    # datapoint is too recent to alarm on (1 period old of the 3 needed) the high alarm has
    # INSUFFICIENT_DATA: no action. Once it is 3 periods old with nothing newer, CloudWatch alarms on
    # it (the docs' "X - - - -" row), until it leaves the 5-period evaluation range: INSUFFICIENT_DATA
    # again, no action
    policy = TargetTracking(FLEET, 10.0, "static", our_backlog)
    missed = [_waiting(t, missed=t > 60) for t in (60, 120, 180, 240, 300, 360, 420)]
    assert [policy.step(obs).desired for obs in missed] == [1, 1, 20, 20, 20, 1, 1]


def test_after_a_missing_datapoint_target_tracking_acts_on_the_older_ones() -> None:
    # Two datapoints above the target, the third missing: CloudWatch evaluates the two it has with one
    # fill-in; the oldest breaches and is 3 periods old, nothing newer is good: ALARM
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html)
    policy = TargetTracking(FLEET, 10.0, "static", our_backlog)
    desired = [policy.step(_waiting(60)).desired, policy.step(_waiting(120)).desired]
    desired.append(policy.step(_waiting(180, missed=True)).desired)
    assert desired == [1, 1, 20]  # ceil(1 x 200 / 10)


def test_missed_samples_delay_the_scale_out_and_are_counted() -> None:
    ideal = run(_queued(), TargetTracking(FLEET, 10.0, "static", our_backlog), initial=1)
    missing = run(
        _queued(),
        TargetTracking(FLEET, 10.0, "static", our_backlog),
        Realism(missed_sample_rate=0.5, seed=3),
        initial=1,
    )
    assert missing.missed_samples > 0 and ideal.missed_samples == 0
    assert first_change(missing, 1) > first_change(ideal, 1)


def test_the_publisher_sees_the_counts_as_they_were_count_lag_seconds_ago() -> None:
    trace = _queued(100, at_s=30.0)
    fresh, stale = _Recorder(0), _Recorder(0)
    run(trace, fresh, Realism(count_lag_s=20.0))
    run(trace, stale, Realism(count_lag_s=40.0))
    assert fresh.observations[0].visible == 100  # the queue at t=40 holds them
    assert stale.observations[0].visible == 0  # the queue at t=20 was still empty
    assert stale.observations[1].visible == 100
    assert fresh.observations[0].oldest_age_s == pytest.approx(10.0)  # at t=40, sent at t=30


def test_count_noise_is_relative_and_never_negative() -> None:
    recorder = _Recorder(0)
    run(_queued(1000), recorder, Realism(count_noise=0.05, seed=2))
    seen = [o.visible for o in recorder.observations[:50]]
    assert len(set(seen)) > 5 and all(850 <= v <= 1150 for v in seen)  # 3 sigma of 5%


def test_a_spot_interruption_loses_no_message() -> None:
    # Short jobs finish within the 2-minute notice: every one completes on its first delivery.
    trace = traces.steady(0.2, 4 * 3600, traces.lognormal(30, 0.3), seed=4)
    fleet = SimFleet(slo_s=900, max_capacity=20, boot_s=60, concurrency=2)
    spot = Realism(spot_interruptions_per_hour=2.0, seed=5)
    short = simulate(trace, "tuned", fleet, realism=spot)
    assert short.spot_interruptions > 0
    assert short.lost == 0 and short.completed == len(trace)
    assert short.redeliveries == 0
    # Jobs longer than the notice return after the visibility timeout and complete on a replacement.
    long_trace = traces.steady(0.05, 4 * 3600, traces.lognormal(400, 0.2), seed=4)
    long = simulate(long_trace, "tuned", fleet, realism=spot)
    assert long.spot_interruptions > 0 and long.redeliveries > 0
    assert long.lost == 0 and long.completed == len(long_trace)


def test_launch_failures_are_retried_so_capacity_arrives_late_but_arrives() -> None:
    ideal = run(_queued(processing_s=100), TargetTracking(FLEET, 10.0, "static", our_backlog), initial=1)
    failing = run(
        _queued(processing_s=100),
        TargetTracking(FLEET, 10.0, "static", our_backlog),
        Realism(launch_failure_rate=0.5, seed=1),
        initial=1,
    )
    assert failing.launch_failures > 0
    assert failing.lost == 0 and failing.completed == 200
    assert failing.latency_p50_s > ideal.latency_p50_s
    assert failing.peak_capacity == ideal.peak_capacity == 20


def test_boot_jitter_spreads_boots_around_the_median() -> None:
    sim = Simulation(
        _queued(1), _Recorder(0), EngineSettings(1, 100.0, realism=Realism(boot_jitter=0.3)), 600
    )
    boots = sorted(sim._boot_s() for _ in range(2001))
    assert boots[1000] == pytest.approx(100.0, rel=0.05)  # lognormal around boot_s: its median
    assert boots[0] < 70 and boots[-1] > 140
    slow = Simulation(
        _queued(1), _Recorder(0), EngineSettings(1, 100.0, realism=preset("ideal", boot_jitter=0.3)), 600
    )
    assert sum(slow._boot_s() > 250 for _ in range(2000)) > 10  # the flag brings ~2% slow (3x) boots


def test_ten_second_periods_react_faster_on_a_burst() -> None:
    burst = traces.burst(2000, 1800, 60, 3600, traces.lognormal(20, 0.5), seed=14)
    fleet60 = SimFleet(slo_s=600, max_capacity=40, boot_s=90, concurrency=4)
    fleet10 = SimFleet(slo_s=600, max_capacity=40, boot_s=90, concurrency=4, period_s=10)
    # A fixed target: `tuned` derives a different one from the shorter alarm lead time.
    slow = simulate(burst, "static-8", fleet60, record_timeline=True)
    fast = simulate(burst, "static-8", fleet10, record_timeline=True)
    assert fast.lost == slow.lost == 0
    assert fast.latency_p50_s < slow.latency_p50_s
    scaled = [next(p.t_s for p in r.timeline if p.desired > 0) for r in (fast, slow)]
    assert scaled == [1830.0, 1860.0]  # 3 x 10 s datapoints vs the minute's bootstrap datapoint


def test_high_resolution_is_ec2_only() -> None:
    with pytest.raises(ValueError, match=r"EC2 only.*no Period"):
        SimFleet(slo_s=600, max_capacity=4, boot_s=60, concurrency=1, platform=Platform.ECS, period_s=10)
    with pytest.raises(ValueError, match="period-seconds"):
        SimFleet(slo_s=600, max_capacity=4, boot_s=60, concurrency=1, period_s=15)


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    trace = traces.steady(0.5, 3 * 3600, traces.lognormal(60, 0.5), seed=8)
    fleet = SimFleet(slo_s=600, max_capacity=30, boot_s=90, concurrency=2)

    def with_seed(seed: int) -> dict[str, float | int | None]:
        real = preset("aws", seed=seed, spot_interruptions_per_hour=1.0, launch_failure_rate=0.2)
        return simulate(trace, "tuned", fleet, realism=real).summary()

    assert with_seed(1) == with_seed(1)
    assert with_seed(1) != with_seed(2)


def test_the_tuner_gets_the_elapsed_time_of_the_messages_in_flight() -> None:
    recorder = _Recorder(2)
    run(Trace((0.0, 100.0, 1000.0), (2000.0, 50.0, 10.0)), recorder)
    at_300, at_600 = recorder.elapsed[0], recorder.elapsed[1]
    # Launched at the first period (t=60), booted at 120: message 0 is 180 s in at t=300 and 480 s
    # at t=600; message 1 ran from 120 to 170 on the second instance.
    assert at_300 == [1, 180.0]
    assert at_600 == [1, 480.0]


def test_bad_settings_name_the_flag() -> None:
    with pytest.raises(ValueError, match="--missed-sample-rate"):
        Realism(missed_sample_rate=1.5)
    with pytest.raises(ValueError, match="--metric-delay-seconds"):
        Realism(metric_delay_s=-1)
    with pytest.raises(ValueError, match="--realism"):
        preset("real")
