"""How far the simulated AWS departs from an ideal one: delays, noise, failures, interruptions.

``ideal`` is the model the simulator always had (every effect off: the engine then draws no random
number and schedules no extra event, so its results are bit for bit those of before). ``aws`` is
the best documented estimate of the real services; docs/simulator.md gives the source of each number.
Individual settings override the preset (``qas simulate --realism aws --count-noise 0``).
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass, fields, replace

from qas import argtypes

HOUR = 3600.0
# A lognormal sigma of 2 already makes a boot 100 times its median at the 99th percentile.
MAX_BOOT_JITTER = 2.0


@dataclass(frozen=True)
class Realism:
    """The AWS effects the engine applies; field names match the ``qas simulate`` flags."""

    name: str = "ideal"
    # Period end -> the alarm evaluates that datapoint: schedule jitter + PutMetricData ingestion
    # + the alarm's own evaluation cadence.
    metric_delay_s: float = 0.0
    count_lag_s: float = 0.0  # the publisher sees the queue as it was this long ago
    count_noise: float = 0.0  # relative (1 sigma) error of each approximate count
    boot_jitter: float = 0.0  # lognormal sigma of launch-to-consuming around boot_s (the median)
    slow_boot_rate: float = 0.0  # share of launches that take slow_boot_factor x longer
    slow_boot_factor: float = 3.0
    launch_failure_rate: float = 0.0  # a launch fails (InsufficientInstanceCapacity, ...)
    launch_retry_s: float = 60.0  # the group tries again this much later
    spot_interruptions_per_hour: float = 0.0  # per instance
    spot_notice_s: float = 120.0  # EC2 two-minute interruption notice
    missed_sample_rate: float = 0.0  # the publisher's invocation did not run or failed
    seed: int = 1

    def __post_init__(self) -> None:
        rates = ("count_noise", "boot_jitter", "spot_interruptions_per_hour")
        shares = ("slow_boot_rate", "launch_failure_rate", "missed_sample_rate")
        for name in ("metric_delay_s", "count_lag_s", "launch_retry_s", "spot_notice_s", *rates):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{_flag(name)} must be a finite number >= 0, got {value!r}")
        for name in shares:
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"{_flag(name)} must be within [0, 1), got {value!r}")
        if self.slow_boot_factor < 1:
            raise ValueError(f"slow_boot_factor must be >= 1, got {self.slow_boot_factor!r}")
        if self.launch_retry_s <= 0:
            raise ValueError("launch_retry_s must be > 0")

    def rng(self, effect: str) -> random.Random:
        """One stream per effect: turning one effect on or off leaves the others' draws unchanged.
        (A str seed is hashed with SHA-512, so the stream does not depend on PYTHONHASHSEED.)"""
        return random.Random(f"{self.seed}:{effect}")


def _flag(field_name: str) -> str:
    flag = {"metric_delay_s": "metric-delay-seconds", "count_lag_s": "count-lag-seconds"}.get(field_name)
    return "--" + (flag or field_name.replace("_", "-"))


IDEAL = Realism()
SLOW_BOOT_RATE = 0.02


def aws(period_s: float = 60.0, seed: int = 1) -> Realism:
    """The best estimate of the real services (docs/simulator.md, "What is modelled", has each source:
    EventBridge "runs within that minute" https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html;
    alarm cadence https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html;
    Spot "< 5%" a month https://aws.amazon.com/ec2/spot/instance-advisor/; Lambda SLA 99.95%
    https://aws.amazon.com/lambda/sla/; the rest are estimates where AWS publishes no number)."""
    return Realism(
        name="aws",
        # 60 s periods: EventBridge fires "within that minute", the publisher takes ~1-2 s, the
        # datapoint is visible to alarms a few seconds later and a 60 s alarm is evaluated once a
        # minute: on average about half a period. 10 s periods: the publisher loops inside one
        # invocation (no schedule jitter) and high-resolution alarms are evaluated every 10 s.
        metric_delay_s=30.0 if period_s >= 60 else 10.0,
        count_lag_s=10.0,  # SQS: "approximate ... may lag"; GetQueueAttributes, not the AWS/SQS metrics
        count_noise=0.02,
        boot_jitter=0.25,
        slow_boot_rate=SLOW_BOOT_RATE,
        slow_boot_factor=3.0,
        launch_failure_rate=0.01,
        launch_retry_s=60.0,
        spot_interruptions_per_hour=0.05 / (30 * 24),  # "< 5%" a month (Spot Instance Advisor)
        missed_sample_rate=0.001,
        seed=seed,
    )


PRESETS = ("ideal", "aws")

# CLI flag -> Realism field; each overrides the preset when given.
_OVERRIDES = {
    "metric_delay_seconds": "metric_delay_s",
    "count_lag_seconds": "count_lag_s",
    "count_noise": "count_noise",
    "boot_jitter": "boot_jitter",
    "launch_failure_rate": "launch_failure_rate",
    "spot_interruptions_per_hour": "spot_interruptions_per_hour",
    "missed_sample_rate": "missed_sample_rate",
}


def preset(name: str, period_s: float = 60.0, seed: int = 1, **overrides: float) -> Realism:
    if name not in PRESETS:
        raise ValueError(f"--realism must be one of {', '.join(PRESETS)}, got {name!r}")
    base = replace(IDEAL, seed=seed) if name == "ideal" else aws(period_s, seed)
    known = {f.name for f in fields(Realism)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown realism settings: {', '.join(sorted(unknown))}")
    if "boot_jitter" in overrides:  # the flag brings the occasional slow boot with it
        overrides.setdefault("slow_boot_rate", SLOW_BOOT_RATE if overrides["boot_jitter"] > 0 else 0.0)
    return replace(base, **overrides) if overrides else base  # type: ignore[arg-type]  # floats only


def add_arguments(parser: argparse.ArgumentParser, *, effects: bool = True) -> None:
    """``--realism`` and ``--seed``; with ``effects``, one flag per effect (default: the preset's)."""
    parser.add_argument("--realism", choices=PRESETS, default="ideal", help="preset of AWS effects")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random draw")
    if not effects:
        return
    helps = {
        "metric_delay_seconds": "period end to alarm evaluation (aws: 30 s; 10 s at 10 s periods)",
        "count_lag_seconds": "the publisher sees the SQS counts as they were this long ago",
        "count_noise": "relative noise of each approximate SQS count (0.05 = 5%%)",
        "boot_jitter": "lognormal sigma of the boot time around --boot-seconds (plus 2%% slow boots)",
        "launch_failure_rate": "share of launches that fail; the group retries 60 s later",
        "spot_interruptions_per_hour": "per instance: 2-minute notice, then termination",
        "missed_sample_rate": "share of publisher invocations that did not run (missing datapoints)",
    }
    # Finite and within these bounds, else argparse names the flag (exit 2) before anything runs.
    hour = argtypes.real(0, HOUR)
    share = argtypes.real(0, 1, high_open=True)
    types = {
        "metric_delay_seconds": hour,
        "count_lag_seconds": hour,
        "count_noise": argtypes.real(0, 1),
        "boot_jitter": argtypes.real(0, MAX_BOOT_JITTER),
        "launch_failure_rate": share,
        "spot_interruptions_per_hour": argtypes.real(0, 60),
        "missed_sample_rate": share,
    }
    for dest, text in helps.items():
        parser.add_argument("--" + dest.replace("_", "-"), type=types[dest], default=None, help=text)


def from_args(args: argparse.Namespace, period_s: float) -> Realism:
    overrides = {
        field: float(getattr(args, dest))
        for dest, field in _OVERRIDES.items()
        if getattr(args, dest, None) is not None
    }
    return preset(args.realism, period_s, args.seed, **overrides)
