"""The `real` benchmark group: the measured public workloads in ``../shared/traces`` (beside the clone).

Each trace's README gives the suggested scenario (SLO, max capacity, boot 180 s, concurrency 1) in a
JSON block; that block is read, not copied, so the scenarios follow the traces.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qas.sim import traces
from qas.sim.policies import SimFleet
from qas.sim.traces import Trace

ROOT = Path(__file__).resolve().parents[2]
TRACES_DIR = ROOT.parent / "shared" / "traces"
_KEYS = ("slo", "max", "boot", "conc", "steady", "reachable")
_JSON_BLOCK = re.compile(r"## Suggested scenarios.*?```json\s*(\{.*?\})\s*```", re.DOTALL)


@dataclass(frozen=True)
class RealSpec:
    name: str
    path: Path
    fleet: SimFleet
    steady: bool
    reachable: bool  # the README's own judgement; the bench judges from the always-on reference


def specs(folder: Path = TRACES_DIR) -> list[RealSpec]:
    readme = folder / "README.md"
    if not readme.is_file():
        raise ValueError(
            f"the real traces are not at {folder} (expected ../shared/traces beside the repository, with"
            " its README.md); run `qas bench --groups synthetic` without them"
        )
    match = _JSON_BLOCK.search(readme.read_text())
    if match is None:
        raise ValueError(f"{readme}: no JSON block under '## Suggested scenarios'")
    try:
        entries = json.loads(match.group(1))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{readme}: the JSON block under '## Suggested scenarios' is not JSON: {exc}"
        ) from None
    out = []
    for name, entry in entries.items():
        try:
            out.append(_spec(folder, name, entry))
        except ValueError as exc:
            raise ValueError(f"{readme}: scenario {name}: {exc}") from None
    return out


def _spec(folder: Path, name: str, entry: object) -> RealSpec:
    if not isinstance(entry, dict):
        raise ValueError(f"expected an object of {', '.join(_KEYS)}, got {entry!r}")
    missing = [key for key in _KEYS if key not in entry]
    if missing:
        raise ValueError(f"no {', '.join(repr(k) for k in missing)}")

    def number(key: str, *, positive: bool) -> float:
        value = entry[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (positive and value == 0):
            raise ValueError(f"{key} must be a finite number {'>' if positive else '>='} 0, got {value!r}")
        return float(value)

    def whole(key: str) -> int:
        value = entry[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{key} must be a whole number >= 1, got {value!r}")
        return value

    fleet = SimFleet(
        slo_s=number("slo", positive=True),
        max_capacity=whole("max"),
        boot_s=number("boot", positive=False),
        concurrency=whole("conc"),
    )
    return RealSpec(name, folder / f"{name}.csv", fleet, bool(entry["steady"]), bool(entry["reachable"]))


@cache
def _read(path: Path) -> Trace:
    return traces.read_csv(path)


def loader(path: Path) -> Callable[[float], Trace]:
    """scale -> the trace's first ``scale`` share of its arrival span (the whole trace at 1)."""

    def make(scale: float) -> Trace:
        trace = _read(path)
        if scale >= 1 or not len(trace):
            return trace
        cut = trace.arrival_s[0] + (trace.duration_s - trace.arrival_s[0]) * scale
        keep = sum(1 for a in trace.arrival_s if a <= cut)
        return Trace(trace.arrival_s[:keep], trace.processing_s[:keep])

    return make
