"""The `real` benchmark group: the measured public workloads in ``../shared/traces`` (beside the clone).

Each trace's README gives the suggested scenario (SLO, max capacity, boot 180 s, concurrency 1) in a
JSON block; that block is read, not copied, so the scenarios follow the traces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qas.sim import traces
from qas.sim.policies import FleetSettings
from qas.sim.traces import Trace

ROOT = Path(__file__).resolve().parents[2]
TRACES_DIR = ROOT.parent / "shared" / "traces"
_JSON_BLOCK = re.compile(r"## Suggested scenarios.*?```json\s*(\{.*?\})\s*```", re.DOTALL)


@dataclass(frozen=True)
class RealSpec:
    name: str
    path: Path
    fleet: FleetSettings
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
    out = []
    for name, entry in json.loads(match.group(1)).items():
        fleet = FleetSettings(
            slo_s=float(entry["slo"]),
            max_capacity=int(entry["max"]),
            boot_s=float(entry["boot"]),
            concurrency=int(entry["conc"]),
        )
        out.append(
            RealSpec(name, folder / f"{name}.csv", fleet, bool(entry["steady"]), bool(entry["reachable"]))
        )
    return out


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
