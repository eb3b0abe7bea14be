"""Golden results of the simulator at ``--realism ideal``: the baselines' summaries on four small traces.

The engine's ideal model (no AWS effects, no random draw) is what every benchmark number rests on, so
its results are pinned: ``ideal_baselines.json`` holds every baseline policy's summary (and the
always-on reference's) on the traces below, and tests/sim/test_ideal_golden.py compares them line by
line. `tuned` is left out: its tuner is meant to change; the baselines run only the engine and the
control-plane model.

After a deliberate change of the engine or of the control-plane model, rewrite the file and review
its diff with the change::

    .venv/bin/python -m tests.sim.golden --write
"""

from __future__ import annotations

import json
from pathlib import Path

from qas.model.control_plane import Platform
from qas.sim import traces
from qas.sim.policies import POLICIES, REFERENCE, SimFleet
from qas.sim.runner import simulate
from qas.sim.traces import Trace

GOLDEN = Path(__file__).with_name("ideal_baselines.json")
REGENERATE = ".venv/bin/python -m tests.sim.golden --write"
BASELINES = (*(name for name in POLICIES if name != "tuned"), REFERENCE)


def cases() -> dict[str, tuple[Trace, SimFleet]]:
    """The benchmark's kinds of load, small: steady, a burst, ECS with a heavy tail, slow jobs."""
    lognormal = traces.lognormal
    return {
        "steady": (traces.steady(0.5, 5400, lognormal(20, 0.5), seed=11), SimFleet(600, 10, 90, 4)),
        "burst": (
            traces.burst(500, 600, 60, 3600, lognormal(20, 0.5), seed=14),
            SimFleet(300, 20, 90, 4),
        ),
        "ecs": (
            traces.steady(0.5, 3600, lognormal(30, 1.0), seed=3),
            SimFleet(600, 10, 60, 2, platform=Platform.ECS),
        ),
        "slow": (traces.steady(0.02, 7200, lognormal(400, 0.3), seed=5), SimFleet(900, 5, 120, 1)),
    }


def summaries() -> dict[str, dict[str, float | int | None]]:
    """``case/policy`` -> the summary ``qas simulate --json`` prints, at the default (ideal) realism."""
    return {
        f"{case}/{policy}": simulate(trace, policy, fleet).summary()
        for case, (trace, fleet) in cases().items()
        for policy in BASELINES
    }


def render(results: dict[str, dict[str, float | int | None]]) -> str:
    """One value per line, keys sorted: a behaviour change shows as a readable diff."""
    return json.dumps(results, indent=2, sort_keys=True) + "\n"
