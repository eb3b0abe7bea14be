"""The simulator's EC2 warm pool: a hand-checkable burst whose latency the pool cuts by exactly
(boot - warm boot), its billing, its refills, and the flags' errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from qas import cli, emulator
from qas.model.control_plane import Platform
from qas.sim.engine import EngineSettings, SimResult, Simulation
from qas.sim.policies import SimFleet, TargetTracking, our_backlog
from qas.sim.runner import simulate
from qas.sim.traces import Trace, write_csv
from qas.sim.warm_pool import (
    GP3_USD_PER_GB_MONTH,
    ROOT_VOLUME_GB,
    SECONDS_PER_MONTH,
    WarmPool,
    WarmPoolSettings,
)

BOOT_S, WARM_S, JOB_S = 300.0, 40.0, 10.0
# One instance takes the whole burst (4 slots); target tracking alone, so the timing is the boot's.
FLEET = SimFleet(
    slo_s=3600, max_capacity=1, boot_s=BOOT_S, concurrency=4, fast_lane=False, scale_in_lane=False
)


def burst() -> Trace:
    return Trace((0.0, 0.0, 0.0, 0.0), (JOB_S,) * 4)


def run(pool: WarmPoolSettings | None) -> SimResult:
    settings = EngineSettings(concurrency=4, boot_s=BOOT_S, drain_s=900, warm_pool=pool)
    return Simulation(burst(), TargetTracking(FLEET, 10.0, "static", our_backlog), settings, slo_s=3600).run()


def test_the_pool_cuts_a_bursts_latency_by_the_boot_it_saves() -> None:
    cold, warm = run(None), run(WarmPoolSettings(size=1, warm_boot_s=WARM_S))
    # The bootstrap alarm launches one instance at t=60. Cold: it consumes at 60 + 300 and every job
    # ends at 370. Warm: it starts from the pool and consumes at 60 + 40, the jobs end at 110.
    assert cold.latency_p50_s == cold.latency_p99_s == 60 + BOOT_S + JOB_S
    assert warm.latency_p50_s == warm.latency_p99_s == 60 + WARM_S + JOB_S
    assert cold.latency_p99_s - warm.latency_p99_s == BOOT_S - WARM_S
    assert warm.completed == cold.completed == 4
    # Billed from launch to the shutdown, which comes once the queue has been empty for
    # ShutdownAfterMinutes (5) counted in whole periods: the first empty datapoint is t=420 cold (jobs
    # done at 370), t=120 warm (done at 110), so the warm fleet goes 300 s sooner.
    assert cold.instance_seconds - warm.instance_seconds == pytest.approx(300.0)
    assert cold.warm_pool is None and "warm_pool" not in cold.summary()


def test_the_pool_is_refilled_by_a_full_boot_and_bills_ebs_while_stopped() -> None:
    warm = run(WarmPoolSettings(size=1, warm_boot_s=WARM_S))
    usage = warm.warm_pool
    assert usage is not None
    assert (usage.warm_starts, usage.cold_starts) == (1, 0)
    # The replacement, launched at t=60, runs its full boot (billed as instance time, serving nothing)
    assert usage.refill_instance_seconds == BOOT_S
    # One instance stopped in the pool from 0 to 60 and again from 360 to the end of the run
    end = warm.simulated_s
    assert usage.stopped_instance_seconds == pytest.approx(60 + (end - 60 - BOOT_S))
    assert usage.ebs_usd == pytest.approx(
        usage.stopped_instance_seconds / SECONDS_PER_MONTH * ROOT_VOLUME_GB * GP3_USD_PER_GB_MONTH
    )
    assert warm.summary()["warm_pool"] == usage.summary()


def test_an_empty_pool_means_a_cold_start() -> None:
    pool = WarmPool(WarmPoolSettings(size=1, warm_boot_s=WARM_S))
    assert pool.launch(0.0, BOOT_S) == WARM_S
    assert pool.launch(10.0, BOOT_S) == BOOT_S  # the replacement is still booting
    assert pool.launch(BOOT_S, BOOT_S) == WARM_S  # booted and stopped at t=300: taken at once
    usage = pool.close(2 * BOOT_S + 100.0)  # the second replacement is stopped from t=600
    assert (usage.warm_starts, usage.cold_starts) == (2, 1)
    assert usage.refill_instance_seconds == 2 * BOOT_S
    assert usage.stopped_instance_seconds == pytest.approx(100.0)


def test_a_pool_that_starts_no_faster_changes_nothing_but_its_own_bill() -> None:
    fleet = dataclasses.replace(FLEET, max_capacity=3)
    cold = simulate(burst(), "tuned", fleet, drain_s=900).summary()
    same = simulate(burst(), "tuned", fleet, drain_s=900, warm_pool=WarmPoolSettings(3, BOOT_S)).summary()
    assert same.pop("warm_pool") and same == cold


def test_the_root_volume_is_the_templates() -> None:
    with open(emulator.TEMPLATE_PATH) as handle:
        text = handle.read()

    class IntrinsicsIgnored(yaml.SafeLoader):
        pass

    IntrinsicsIgnored.add_multi_constructor("!", lambda _loader, _suffix, _node: None)
    template = yaml.load(text, Loader=IntrinsicsIgnored)  # noqa: S506 - a SafeLoader
    (root,) = template["Resources"]["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"][
        "BlockDeviceMappings"
    ]
    assert float(root["Ebs"]["VolumeSize"]) == ROOT_VOLUME_GB


def _cli(tmp_path: Path, *extra: str) -> list[str]:
    path = tmp_path / "t.csv"
    write_csv(burst(), path)
    return [
        "simulate", "--trace", str(path), "--slo-seconds", "3600", "--max-capacity", "1",
        "--boot-seconds", str(BOOT_S), "--concurrency", "4", "--policy", "static-8", "--json", *extra,
    ]  # fmt: skip


def test_the_flags_print_the_pool_and_its_costs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_cli(tmp_path)) == 0
    cold = json.loads(capsys.readouterr().out)
    assert "warm_pool" not in cold
    flags = ("--warm-pool", "2", "--warm-boot-seconds", str(WARM_S), "--ebs-price-per-gb-month", "0.1")
    assert cli.main(_cli(tmp_path, *flags, "--warm-volume-gb", "50")) == 0
    warm = json.loads(capsys.readouterr().out)
    assert warm["warm_pool"]["size"] == 2 and warm["warm_pool"]["warm_starts"] == 1
    assert warm["latency_p99_s"] == cold["latency_p99_s"] - (BOOT_S - WARM_S)
    stopped = warm["warm_pool"]["stopped_instance_seconds"]
    assert warm["warm_pool"]["ebs_usd"] == pytest.approx(stopped / SECONDS_PER_MONTH * 50 * 0.1, abs=1e-6)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--warm-pool", "1"), "--warm-pool needs --warm-boot-seconds"),
        (("--warm-boot-seconds", "30"), "--warm-boot-seconds needs --warm-pool"),
        (("--warm-pool", "1", "--warm-boot-seconds", "300"), "must be below --boot-seconds"),
        (("--warm-pool", "1", "--warm-boot-seconds", "30", "--platform", "ECS"), "--warm-pool is EC2 only"),
        (("--warm-pool", "-1", "--warm-boot-seconds", "30"), "--warm-pool"),
    ],
)
def test_bad_flags_are_named_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    assert cli.main(_cli(tmp_path, *extra)) == 2
    assert message in capsys.readouterr().err


def test_the_pool_is_ec2_only_in_the_runner() -> None:
    fleet = dataclasses.replace(FLEET, platform=Platform.ECS)
    with pytest.raises(ValueError, match="EC2 only"):
        simulate(burst(), "tuned", fleet, warm_pool=WarmPoolSettings(size=1, warm_boot_s=WARM_S))
