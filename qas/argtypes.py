"""argparse types for the numeric flags of `qas simulate`, `bench`, `trace` and `plan`: finite, in range.

A type raises ``argparse.ArgumentTypeError``; argparse then names the flag ("argument --slo-seconds:
must be a number > 0 ..."), prints the usage and exits 2, with no traceback. ``float()`` alone accepts
"inf" and "nan", which then hang a simulation or reach the printed parameters.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

DAY_S = 86_400.0
# SQS keeps a message at most 14 days (MessageRetentionPeriod 60..1,209,600 s,
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html):
# a latency SLO longer than that promises what the queue cannot keep.
MAX_SLO_S = 14 * DAY_S
MAX_BOOT_S = DAY_S  # launch to consuming: a day is far past any instance or task start
# The simulator's own ceiling on MaxCapacity (the template's is 1,000; the shared traces suggest up to
# a few thousand): `always-on-max` starts every instance at once.
MAX_SIMULATED_CAPACITY = 10_000
MAX_SCALE = 10.0  # `--scale`: ten times a scenario's length (a benchmark scenario is 6 h to 2 days)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool, why: str) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {_number(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {_number(high)}")
    text = " and ".join(parts)
    return f"{text} ({why})" if why else text


def real(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    why: str = "",
) -> Callable[[str], float]:
    """A finite number within the bounds (``*_open``: the bound itself is excluded)."""
    bounds = _bounds(low, high, low_open, high_open, why)
    wanted = f"a number {bounds}" if bounds else "a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def whole(low: int, high: int | None = None, *, why: str = "") -> Callable[[str], int]:
    """A whole number within ``low..high`` (both included)."""
    wanted = "a whole number " + _bounds(low, high, False, False, why)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = "whole number"
    return parse


def names(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """A comma-separated subset of ``choices``, in the order given (at least one)."""

    def parse(text: str) -> list[str]:
        given = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in given if name not in choices]
        if unknown or not given:
            shown = ", ".join(unknown) if unknown else "none"
            raise argparse.ArgumentTypeError(f"unknown {shown}; choose from {', '.join(choices)}")
        return given

    parse.__name__ = "names"
    return parse
