"""What one demo run does: the compressed clock, the load profile and the stack parameters.

Two time scales, both shown in the UI and the docs:

* "demo minutes": everything AWS measures in minutes (EventBridge schedules, metric periods,
  alarm datapoints, ShutdownAfterMinutes, instance boot) runs on a compressed clock where one
  demo minute lasts ``seconds_per_minute`` real seconds;
* real seconds: message processing happens on real worker processes, so processing times, the
  latency SLO and the latency measured are in real seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from qas.model.control_plane import Platform


@dataclass(frozen=True)
class Phase:
    """A stretch of the load profile. ``count`` messages per producer run; 0 = the rule is disabled."""

    name: str
    minutes: int
    count: int = 0
    distribution: dict[str, Any] = field(default_factory=dict)

    def producer_input(self) -> dict[str, Any]:
        return {"count": self.count, "distribution": self.distribution, "malformed_ratio": 0.0}


@dataclass(frozen=True)
class LoadProfile:
    name: str
    phases: tuple[Phase, ...]
    description: str

    def phase_at(self, minute: int) -> Phase | None:
        """The phase in force at demo minute ``minute`` (None after the last one)."""
        start = 0
        for phase in self.phases:
            if start <= minute < start + phase.minutes:
                return phase
            start += phase.minutes
        return None

    @property
    def minutes(self) -> int:
        return sum(phase.minutes for phase in self.phases)

    def expected_seconds(self) -> tuple[float, float]:
        """(mean, tail) processing seconds declared by the busiest phase's distribution."""
        busiest = max(self.phases, key=lambda p: p.count)
        dist = busiest.distribution
        if dist.get("kind") == "uniform":
            low, high = float(dist["low_seconds"]), float(dist["high_seconds"])
            return (low + high) / 2, low + 0.9 * (high - low)
        if dist.get("kind") == "fixed":
            return float(dist["seconds"]), float(dist["seconds"])
        mean = float(dist.get("mean_seconds", 1.0))
        return mean, 2 * mean


def _uniform(low: float, high: float) -> dict[str, Any]:
    return {"kind": "uniform", "low_seconds": low, "high_seconds": high}


PROFILES: dict[str, LoadProfile] = {
    "burst-steady-silence": LoadProfile(
        "burst-steady-silence",
        (
            Phase("idle", 1),
            Phase("burst", 1, 150, _uniform(1.0, 3.0)),
            Phase("steady", 20, 10, _uniform(1.0, 3.0)),
            Phase("silence", 12),
        ),
        "1 min idle, a burst of 150 messages, 20 min of 10 messages/min, then silence",
    ),
    "quick": LoadProfile(
        "quick",
        (
            Phase("idle", 1),
            Phase("burst", 1, 40, _uniform(0.5, 1.5)),
            Phase("steady", 3, 6, _uniform(0.5, 1.5)),
            Phase("silence", 6),
        ),
        "the tests' short run: a burst of 40 messages, 3 min of 6/min, then silence",
    ),
}


@dataclass(frozen=True)
class DemoConfig:
    platform: Platform = Platform.EC2
    profile: LoadProfile = PROFILES["burst-steady-silence"]
    seconds_per_minute: float = 5.0
    duration_minutes: int | None = None  # None: the profile's length
    drain_minutes: int = 30  # extra demo minutes allowed for the fleet to return to 0
    slo_seconds: float = 60.0  # real seconds
    boot_minutes: float = 1.0  # demo minutes from launch to a consuming worker
    worker_concurrency: int = 2
    max_capacity: int = 6
    shutdown_after_minutes: int = 4
    seed: int = 7
    tuner_every_minutes: int | None = None  # None: the tuner's own rule (TunerSchedule)
    report_dir: str = "reports/demo"
    # The simulator's AWS effects the demo shares (docs/simulator.md); off by default.
    alarm_delay_minutes: int = 0  # the alarms act on a minute's datapoints this many minutes later
    missed_sample_rate: float = 0.0  # share of minutes the metric publisher does not run
    # The policy's parts the template lets you turn off (FastLane, ScaleInLane) or on (KeepWarm:
    # KeepWarmMinutes in demo minutes; None = off), to watch what each does.
    fast_lane: bool = True
    scale_in_lane: bool = True
    keep_warm_minutes: int | None = None
    # Attach mode: the group or service is created outside the stack first (qas.demo.attach).
    attach: bool = False

    def __post_init__(self) -> None:
        for flag, value in (
            ("--seconds-per-minute", self.seconds_per_minute),
            ("--slo-seconds", self.slo_seconds),
            ("--boot-minutes", self.boot_minutes),
            ("--missed-sample-rate", self.missed_sample_rate),
        ):
            if not math.isfinite(value):
                raise ValueError(f"{flag} must be a finite number, got {value}")
        if not 2 <= self.seconds_per_minute <= 60:
            # A demo minute is read back from CloudWatch as a window of whole seconds: under 2 s the
            # previous minute's datapoint could fall into it. Over 60 the demo runs slower than AWS.
            raise ValueError("--seconds-per-minute must be within 2..60")
        if self.slo_seconds <= 0:
            raise ValueError("--slo-seconds must be > 0")
        if self.boot_minutes < 0:
            raise ValueError("--boot-minutes must be >= 0")
        if self.tuner_every_minutes is not None and self.tuner_every_minutes < 1:
            raise ValueError("--tuner-every must be >= 1 demo minute")
        if self.duration_minutes is not None and self.duration_minutes < 1:
            raise ValueError("--duration must be >= 1 demo minute")
        if self.alarm_delay_minutes < 0:
            raise ValueError("--alarm-delay-minutes must be >= 0")
        if not 0 <= self.missed_sample_rate < 1:
            raise ValueError("--missed-sample-rate must be within [0, 1)")
        if self.keep_warm_minutes is not None and not 1 <= self.keep_warm_minutes <= 120:
            raise ValueError("--keep-warm must be within 1..120 demo minutes (KeepWarmMinutes)")

    def settings(self) -> dict[str, Any]:
        """The run's settings as JSON values (summary.json): every field, the profile by name."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "report_dir"}
        return {**values, "platform": str(self.platform), "profile": self.profile.name}

    @property
    def timeline_minutes(self) -> int:
        return self.duration_minutes if self.duration_minutes is not None else self.profile.minutes

    def real_seconds(self, demo_minutes: float) -> float:
        return demo_minutes * self.seconds_per_minute

    @property
    def worker_wait_seconds(self) -> int:
        # Long polls shorter than a demo minute, so that a stopped worker leaves promptly.
        return max(1, min(20, math.floor(self.seconds_per_minute / 2)))

    @property
    def visibility_timeout_s(self) -> int:
        return 30
