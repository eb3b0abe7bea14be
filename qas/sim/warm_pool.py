"""An EC2 warm pool in the simulator: instances booted ahead and kept stopped beside the group.

The template's pool (`WarmPool`, `WarmPoolSize`: MinSize = MaxGroupPreparedCapacity = N, ReuseOnScaleIn
false) holds N stopped instances whatever the group's size. A launch takes one when the pool has one:
it consumes ``warm_boot_s`` after the launch (start, worker start, first receive) instead of the full
boot. The pool then launches a replacement, which runs the full boot (user data, image pull) and is
stopped: it serves nothing. A launch that finds the pool empty is a cold start, as AWS launches
directly into the group when the pool is depleted. Scaled-in instances are terminated, never returned.

Billing (docs/simulator.md#warm-pool): a stopped instance costs its EBS volume only
(``volume_gb`` x ``ebs_usd_per_gb_month``); a replacement costs instance time for its boot
(``refill_instance_seconds``, at the instance's price). The pool starts full (a deployed stack's pool
was filled when it was created); the instances taken from it are billed from their launch as any
other. Pure bookkeeping over the engine's launch times: no event of its own, no random draw, so a run
without a pool is the engine's run unchanged.
"""

from __future__ import annotations

import argparse
import heapq
import math
from dataclasses import dataclass

from qas import argtypes
from qas.argtypes import MAX_BOOT_S, MAX_SIMULATED_CAPACITY

# The template's root volume (WorkerLaunchTemplate: gp3, VolumeSize 30); tests/sim checks they agree.
ROOT_VOLUME_GB = 30.0
# gp3 storage in us-east-1, per GB-month (aws.amazon.com/ebs/pricing): an assumption to replace with
# your region's price (`--ebs-price-per-gb-month`).
GP3_USD_PER_GB_MONTH = 0.08
SECONDS_PER_MONTH = 730.0 * 3600.0  # AWS's pricing-calculator month, as qas.plan.prices


@dataclass(frozen=True)
class WarmPoolSettings:
    size: int
    warm_boot_s: float
    volume_gb: float = ROOT_VOLUME_GB
    ebs_usd_per_gb_month: float = GP3_USD_PER_GB_MONTH

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"--warm-pool must be >= 1 to simulate a pool, got {self.size}")
        if not (math.isfinite(self.warm_boot_s) and self.warm_boot_s >= 0):
            raise ValueError(f"--warm-boot-seconds must be a finite number >= 0, got {self.warm_boot_s!r}")
        if not (math.isfinite(self.volume_gb) and self.volume_gb > 0):
            raise ValueError(f"--warm-volume-gb must be a number > 0, got {self.volume_gb!r}")
        if not (math.isfinite(self.ebs_usd_per_gb_month) and self.ebs_usd_per_gb_month >= 0):
            raise ValueError(
                f"--ebs-price-per-gb-month must be a number >= 0, got {self.ebs_usd_per_gb_month!r}"
            )


@dataclass(frozen=True)
class WarmPoolUsage:
    """What the pool did and cost over a run."""

    size: int
    warm_starts: int  # launches served from the pool
    cold_starts: int  # launches that found it empty
    stopped_instance_seconds: float  # instances waiting, stopped, in the pool
    refill_instance_seconds: float  # replacements running their boot
    ebs_usd: float  # the stopped instances' volumes

    def summary(self) -> dict[str, float | int]:
        return {
            "size": self.size,
            "warm_starts": self.warm_starts,
            "cold_starts": self.cold_starts,
            "stopped_instance_seconds": round(self.stopped_instance_seconds, 3),
            "refill_instance_seconds": round(self.refill_instance_seconds, 3),
            "ebs_usd": round(self.ebs_usd, 6),
        }


class WarmPool:
    def __init__(self, settings: WarmPoolSettings) -> None:
        self.settings = settings
        self._ready = settings.size  # stopped, available
        self._refills: list[float] = []  # when each replacement is booted and stopped
        self._last_s = 0.0
        self._stopped_s = 0.0
        self._refill_s = 0.0
        self._warm = 0
        self._cold = 0

    def _advance(self, t: float) -> None:
        """Count the stopped instance-seconds up to `t`, adding the replacements done by then."""
        while self._refills and self._refills[0] <= t:
            done = heapq.heappop(self._refills)
            self._stopped_s += self._ready * (done - self._last_s)
            self._last_s = done
            self._ready += 1
        self._stopped_s += self._ready * (t - self._last_s)
        self._last_s = t

    def launch(self, t: float, full_boot_s: float) -> float:
        """A launch at `t` whose cold boot would take `full_boot_s`: the boot it takes."""
        self._advance(t)
        if self._ready == 0:
            self._cold += 1
            return full_boot_s
        self._ready -= 1
        self._warm += 1
        heapq.heappush(self._refills, t + full_boot_s)
        self._refill_s += full_boot_s
        return min(self.settings.warm_boot_s, full_boot_s)

    def close(self, end_s: float) -> WarmPoolUsage:
        self._advance(end_s)
        s = self.settings
        return WarmPoolUsage(
            size=s.size,
            warm_starts=self._warm,
            cold_starts=self._cold,
            stopped_instance_seconds=self._stopped_s,
            refill_instance_seconds=self._refill_s,
            ebs_usd=self._stopped_s / SECONDS_PER_MONTH * s.volume_gb * s.ebs_usd_per_gb_month,
        )


# ----------------------------------------------------------------------------- flags
# `qas simulate` and `qas plan` share them (docs/simulator.md#warm-pool).


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("EC2 warm pool (docs/simulator.md#warm-pool)")
    group.add_argument(
        "--warm-pool",
        type=argtypes.whole(0, MAX_SIMULATED_CAPACITY),
        default=0,
        metavar="N",
        help="stopped instances kept beside the group, refilled after use (0: none)",
    )
    group.add_argument(
        "--warm-boot-seconds",
        type=argtypes.real(0, MAX_BOOT_S),
        default=None,
        metavar="S",
        help="with --warm-pool: launch to consuming for an instance taken from the pool"
        " (qas plan: also the start of the pools it tries; default there 30, assumed)",
    )
    group.add_argument(
        "--warm-volume-gb",
        type=argtypes.real(0, 64 * 1024, low_open=True),
        default=ROOT_VOLUME_GB,
        help=f"EBS GB of a stopped instance (default: the template's {ROOT_VOLUME_GB:g})",
    )
    group.add_argument(
        "--ebs-price-per-gb-month",
        type=argtypes.real(0, 10),
        default=GP3_USD_PER_GB_MONTH,
        help=f"USD per GB-month of a stopped instance's volume (default: gp3, {GP3_USD_PER_GB_MONTH})",
    )


def from_args(args: argparse.Namespace, boot_s: float | None) -> WarmPoolSettings | None:
    """The pool the flags describe; None without --warm-pool (a run unchanged)."""
    if args.warm_pool == 0:
        if args.warm_boot_seconds is not None:
            raise ValueError("--warm-boot-seconds needs --warm-pool N (N >= 1)")
        return None
    if args.warm_boot_seconds is None:
        raise ValueError("--warm-pool needs --warm-boot-seconds (an instance's start from the pool)")
    if boot_s is not None and args.warm_boot_seconds >= boot_s:
        raise ValueError(
            f"--warm-boot-seconds {args.warm_boot_seconds:g} must be below --boot-seconds {boot_s:g}:"
            " a pool would gain nothing"
        )
    return WarmPoolSettings(
        size=args.warm_pool,
        warm_boot_s=args.warm_boot_seconds,
        volume_gb=args.warm_volume_gb,
        ebs_usd_per_gb_month=args.ebs_price_per_gb_month,
    )
