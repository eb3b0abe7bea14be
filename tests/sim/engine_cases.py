"""Small traces of the benchmark's kinds, and every policy's summary on them.

Imported by tests/sim/test_ideal_is_the_old_engine.py, and run as a script (``python
engine_cases.py``) inside an old checkout of qas/ and src/, which then prints that engine's summaries.
"""

from __future__ import annotations

import json
import sys

from qas.sim import traces
from qas.sim.policies import POLICIES, REFERENCE, FleetSettings
from qas.sim.runner import simulate
from qas.sim.traces import Trace
from scaling.control_plane import Platform


def cases() -> dict[str, tuple[Trace, FleetSettings]]:
    lognormal = traces.lognormal
    return {
        "steady": (traces.steady(0.5, 5400, lognormal(20, 0.5), seed=11), FleetSettings(600, 10, 90, 4)),
        "burst": (
            traces.burst(500, 600, 60, 3600, lognormal(20, 0.5), seed=14),
            FleetSettings(300, 20, 90, 4),
        ),
        "ecs": (
            traces.steady(0.5, 3600, lognormal(30, 1.0), seed=3),
            FleetSettings(600, 10, 60, 2, platform=Platform.ECS),
        ),
        "slow": (traces.steady(0.02, 7200, lognormal(400, 0.3), seed=5), FleetSettings(900, 5, 120, 1)),
    }


def summaries() -> dict[str, dict[str, float | int | None]]:
    return {
        f"{case}/{policy}": simulate(trace, policy, fleet).summary()
        for case, (trace, fleet) in cases().items()
        for policy in [*POLICIES, REFERENCE]
    }


if __name__ == "__main__":
    json.dump(summaries(), sys.stdout)
