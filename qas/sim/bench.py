"""`qas bench`: every policy on every scenario under every realism; writes results.md, results.json
and one chart per scenario and realism.

Scenario groups: ``synthetic`` (the generators below) and ``real`` (the measured traces in
``../shared/traces``, `qas.sim.real_traces`). The goal checked for `tuned` on each scenario, per
realism: it loses nothing; no baseline both meets the SLO more often and costs less; where the SLO
is reachable at all (the always-on reference with ``max_capacity`` running from the start reaches
>= 99.5%), >= 99% of messages meet it; and on steady loads the cost is within 1.3x the work lower
bound.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qas.model.control_plane import Platform
from qas.model.platforms import model_platform
from qas.sim import bench_report, clairvoyant, http_bursts, real_traces, realism, traces, workloads
from qas.sim.engine import SimResult
from qas.sim.policies import POLICIES, REFERENCE, SimFleet
from qas.sim.runner import simulate
from qas.sim.scenarios_fifo import FIFO_SCENARIOS
from qas.sim.traces import Trace
from qas.sim.warm_pool import WarmPoolSettings

SLO_GOAL = 0.99
REACHABLE = 0.995  # the reference's attainment from which the SLO goal applies
COST_GOAL = 1.3
DOMINATED_POINTS = 0.005  # a baseline must attain more than half a point more...
DOMINATED_COST = 0.02  # ...and cost more than 2% less to dominate tuned
CHEAPEST_WITHIN = 1.1  # among the policies that attain SLO_GOAL, tuned is within 10% of the cheapest
GROUPS = ("synthetic", "real", "shapes")
# Run only when asked for (`--groups http`), so that the default report keeps its lines and its goal.
EXTRA_GROUPS = ("http",)
HOUR = 3600.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    fleet: SimFleet
    make: Callable[[float], Trace]  # scale -> trace
    steady: bool = False  # the cost goal applies
    group: str = "synthetic"
    queue_weights: tuple[float, ...] | None = None  # QueueWeights, for a trace with a queue column
    # The same load with its job classes as a queue column (`qas trace --split-classes`); None: no classes.
    classes: Callable[[float], Trace] | None = None
    warm_pool: WarmPoolSettings | None = None  # an EC2 warm pool for every policy (qas/sim/warm_pool.py)

    def trace(self, scale: float = 1.0) -> Trace:
        return self.make(scale)


def _fleet(
    slo_s: float,
    max_capacity: int,
    concurrency: int = 4,
    boot_s: float = 90.0,
    platform: Platform = Platform.EC2,
) -> SimFleet:
    return SimFleet(
        slo_s=slo_s, max_capacity=max_capacity, boot_s=boot_s, concurrency=concurrency, platform=platform
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "steady",
            "6 h of Poisson arrivals at 1.5 msg/s, lognormal 20 s (sigma 0.5); SLO 10 min",
            _fleet(600, 30),
            lambda k: traces.steady(1.5, 6 * HOUR * k, traces.lognormal(20, 0.5), seed=11),
            steady=True,
        ),
        Scenario(
            "steady-ecs",
            "the steady load on ECS Fargate: cooldowns 60 s out, 300 s in; running-task count; boot 60 s",
            _fleet(600, 30, boot_s=60, platform=Platform.ECS),
            lambda k: traces.steady(1.5, 6 * HOUR * k, traces.lognormal(20, 0.5), seed=11),
            steady=True,
        ),
        Scenario(
            "steady-tight",
            "6 h at 1.5 msg/s, lognormal 20 s; SLO 3 min: less room to queue",
            _fleet(180, 30),
            lambda k: traces.steady(1.5, 6 * HOUR * k, traces.lognormal(20, 0.5), seed=12),
            steady=True,
        ),
        Scenario(
            "ramp",
            "6 h ramp from 0.1 to 4 msg/s, lognormal 20 s; SLO 10 min",
            _fleet(600, 40),
            lambda k: traces.ramp(0.1, 4.0, 6 * HOUR * k, traces.lognormal(20, 0.5), seed=13),
        ),
        Scenario(
            "burst",
            "idle fleet; 2,000 messages within one minute at t=30 min, lognormal 20 s; SLO 10 min, max 40",
            _fleet(600, 40),
            lambda k: traces.burst(2000, 1800, 60, 1800 + 2 * HOUR * k, traces.lognormal(20, 0.5), seed=14),
        ),
        Scenario(
            "overload",
            "20,000 messages within 10 minutes, lognormal 20 s; 20 instances drain 4 msg/s: SLO 10 min out of"
            " reach",
            _fleet(600, 20),
            lambda k: traces.burst(20_000, 600, 600, 600 + 3 * HOUR * k, traces.lognormal(20, 0.5), seed=19),
        ),
        Scenario(
            "duration-shift",
            "6 h at 1 msg/s; processing 10 s, then 40 s from half-way; SLO 10 min",
            _fleet(600, 40),
            lambda k: traces.steady(
                1.0,
                6 * HOUR * k,
                traces.switch_at(3 * HOUR * k, traces.lognormal(10, 0.3), traces.lognormal(40, 0.3)),
                seed=15,
            ),
        ),
        Scenario(
            "heavy-tail",
            "6 h at 1 msg/s, lognormal mean 20 s with sigma 1.5 (p99 ~ 10x mean); SLO 15 min",
            _fleet(900, 30),
            lambda k: traces.steady(1.0, 6 * HOUR * k, traces.lognormal(20, 1.5), seed=16),
            steady=True,
        ),
        Scenario(
            "trickle",
            "6 h of sparse messages (one per 10 min on average), 30 s each, 1 slot; SLO 5 min",
            _fleet(300, 5, concurrency=1),
            lambda k: traces.steady(1 / 600, 6 * HOUR * k, traces.lognormal(30, 0.3), seed=17),
        ),
        Scenario(
            "diurnal",
            "one day, 2 msg/s on average, +-80% over the day, lognormal 20 s; SLO 10 min",
            _fleet(600, 40),
            lambda k: traces.diurnal(
                2.0, 0.8, 24 * HOUR * k, traces.lognormal(20, 0.5), seed=18, day_s=24 * HOUR * k
            ),
        ),
    )
}

SCENARIOS.update({n: Scenario(n, d, f, m) for n, d, f, m, _groups in FIFO_SCENARIOS})  # scenarios_fifo.py

_HTTP_SPLIT = Scenario(
    http_bursts.SPLIT_NAME,
    http_bursts.SPLIT_DESCRIPTION,
    http_bursts.FLEET,
    http_bursts.http_bursts_split,
    group="http",
    queue_weights=http_bursts.SPLIT_WEIGHTS,
)
HTTP_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            http_bursts.NAME,
            http_bursts.DESCRIPTION,
            http_bursts.FLEET,
            http_bursts.http_bursts_mixed,
            group="http",
            classes=http_bursts.http_bursts_split,
        ),
        _HTTP_SPLIT,
        dataclasses.replace(  # the split with a warm pool for every policy
            _HTTP_SPLIT,
            name=http_bursts.WARM_NAME,
            description=http_bursts.WARM_DESCRIPTION,
            warm_pool=WarmPoolSettings(http_bursts.WARM_POOL_SIZE, http_bursts.WARM_BOOT_S),
        ),
    )
}


@dataclass
class ScenarioOutcome:
    scenario: Scenario
    realism: str
    messages: int
    results: dict[str, SimResult]
    reference: SimResult
    goal: dict[str, object] = field(default_factory=dict)
    # policy -> its attainment, the clairvoyant bound's cost there and its cost / that (empty: no bound)
    bound: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class BenchReport:
    outcomes: list[ScenarioOutcome]
    markdown_path: Path
    json_path: Path
    charts: list[Path]

    @property
    def goal_met(self) -> bool:
        return all(bool(o.goal.get("met")) for o in self.outcomes)


def judge(results: dict[str, SimResult], reference: SimResult, steady: bool) -> dict[str, object]:
    """The goal for `tuned` against the baselines that ran (docs/simulator.md; the margins: a baseline
    dominates when it attains more than DOMINATED_POINTS more AND costs more than DOMINATED_COST less;
    among the policies that attain SLO_GOAL, tuned costs at most CHEAPEST_WITHIN x the cheapest)."""
    tuned = results["tuned"]
    dominated_by = [
        name
        for name, r in results.items()
        if name != "tuned"
        and r.slo_attainment > tuned.slo_attainment + DOMINATED_POINTS
        and r.instance_seconds < tuned.instance_seconds * (1 - DOMINATED_COST)
    ]
    reachable = reference.slo_attainment >= REACHABLE
    slo_met = tuned.slo_attainment >= SLO_GOAL if reachable else None
    cost_met = tuned.cost_ratio <= COST_GOAL if steady and reachable else None
    attaining = [r.instance_seconds for r in results.values() if r.slo_attainment >= SLO_GOAL]
    cheapest_met = None
    if tuned.slo_attainment >= SLO_GOAL and attaining:
        cheapest_met = tuned.instance_seconds <= CHEAPEST_WITHIN * min(attaining)
    met = (
        tuned.lost == 0
        and not dominated_by
        and slo_met is not False
        and cost_met is not False
        and cheapest_met is not False
    )
    return {
        "lost_nothing": tuned.lost == 0,
        "dominated_by": dominated_by,
        "slo_reachable": reachable,
        "reference_slo_attainment": round(reference.slo_attainment, 6),
        "slo_met": slo_met,
        "cost_within_1_3": cost_met,
        "cheapest_within_10pct": cheapest_met,
        "met": met,
    }


def scenarios_of(groups: Sequence[str]) -> dict[str, Scenario]:
    unknown = [g for g in groups if g not in GROUPS + EXTRA_GROUPS]
    if unknown:
        choices = ", ".join(GROUPS + EXTRA_GROUPS)
        raise ValueError(f"unknown scenario group: {', '.join(unknown)}; choose from {choices}")
    chosen = dict(SCENARIOS) if "synthetic" in groups else {}
    if "shapes" in groups:
        for name, description, fleet, make in workloads.SHAPE_SCENARIOS:
            chosen[name] = Scenario(name, description, fleet, make, False, "shapes")  # type: ignore[arg-type]
    if "http" in groups:
        chosen.update(HTTP_SCENARIOS)
    if "real" in groups:
        for spec in real_traces.specs():
            description = f"measured trace {spec.path.name} (../shared/traces/README.md)"
            chosen[spec.name] = Scenario(
                spec.name, description, spec.fleet, real_traces.loader(spec.path), spec.steady, "real"
            )
    return chosen


def run_bench(
    out_dir: Path,
    *,
    scenarios: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    scale: float = 1.0,
    charts: bool = True,
    realisms: Sequence[str] = ("ideal",),
    groups: Sequence[str] = ("synthetic",),
    seed: int = 1,
    in_service_s: float | None = None,
    bound: bool = True,
) -> BenchReport:
    """``in_service_s``: run the EC2 scenarios without the launch lifecycle hook, InService this long
    after launch (qas.sim.engine.EngineSettings.in_service_s); None: with the template's hook.
    ``bound``: compare each policy with the clairvoyant schedule at its own attainment
    (`cost_vs_bound`; standard queues only: the schedule does not model message groups)."""
    unknown_realisms = [r for r in realisms if r not in realism.PRESETS]
    if unknown_realisms or not realisms:
        raise ValueError(
            f"unknown realism {', '.join(unknown_realisms)}; choose from {', '.join(realism.PRESETS)}"
        )
    available = (
        scenarios_of(groups) if not scenarios else {**SCENARIOS, **scenarios_of(_groups_for(scenarios))}
    )
    names = list(scenarios or available)
    chosen = list(policies or POLICIES)
    unknown = [n for n in names if n not in available] + [p for p in chosen if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown scenario or policy: {', '.join(unknown)}")
    if "tuned" not in chosen:
        chosen.insert(0, "tuned")
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[ScenarioOutcome] = []
    chart_paths: list[Path] = []
    for name in names:
        scenario = without_hook(available[name], in_service_s)
        trace = scenario.trace(scale)
        # Once per scenario, on the ideal engine: the cheapest replayed schedule at each attainment.
        points = clairvoyant.frontier(trace, scenario.fleet) if bound and clairvoyant.models(trace) else []
        for real_name in realisms:
            real = realism.preset(real_name, scenario.fleet.period_s, seed)
            weights = scenario.queue_weights
            results = {
                p: simulate(
                    trace,
                    p,
                    scenario.fleet,
                    record_timeline=charts,
                    realism=real,
                    queue_weights=weights,
                    warm_pool=scenario.warm_pool,
                )
                for p in chosen
            }
            reference = simulate(trace, REFERENCE, scenario.fleet, realism=real, queue_weights=weights)
            outcome = ScenarioOutcome(scenario, real_name, len(trace), results, reference)
            outcome.goal = judge(results, reference, scenario.steady)
            outcome.bound = cost_vs_bound(results, points)
            outcomes.append(outcome)
            if charts:
                path = out_dir / (f"{name}.png" if real_name == "ideal" else f"{name}-{real_name}.png")
                bench_report.chart(outcome, path)
                chart_paths.append(path)

    md_path, json_path = out_dir / "results.md", out_dir / "results.json"
    md_path.write_text(bench_report.markdown(outcomes, scale, realisms, seed))
    json_path.write_text(json.dumps(_payload(outcomes, scale, realisms, seed), indent=2) + "\n")
    return BenchReport(outcomes, md_path, json_path, chart_paths)


def cost_vs_bound(
    results: dict[str, SimResult], points: Sequence[clairvoyant.Point]
) -> dict[str, dict[str, float]]:
    """Each policy's cost over the clairvoyant bound at the attainment it reached (clamped to the
    best attainment the bound reaches)."""
    out: dict[str, dict[str, float]] = {}
    for name, r in results.items():
        point = clairvoyant.bound_at(points, r.slo_attainment)
        if point is None or point.instance_seconds <= 0:
            continue
        out[name] = {
            "slo_attainment": round(r.slo_attainment, 6),
            "bound_slo_attainment": round(point.attainment, 6),
            "bound_instance_seconds": round(point.instance_seconds, 3),
            "cost_vs_bound": round(r.instance_seconds / point.instance_seconds, 4),
        }
    return out


def without_hook(scenario: Scenario, in_service_s: float | None) -> Scenario:
    """The scenario on a group without the launch hook (a platform with one: ECS counts a task once it
    runs)."""
    if in_service_s is None or not model_platform(scenario.fleet.platform).launch_hook:
        return scenario
    fleet = dataclasses.replace(scenario.fleet, launch_hook=False, in_service_s=in_service_s)
    return dataclasses.replace(scenario, fleet=fleet)


def _groups_for(names: Sequence[str]) -> list[str]:
    """The real group is read only when a named scenario is not a synthetic (or http) one."""
    groups = ["http"] if any(n in HTTP_SCENARIOS for n in names) else []
    return [*groups, "real"] if any(n not in SCENARIOS and n not in HTTP_SCENARIOS for n in names) else groups


def _payload(
    outcomes: Sequence[ScenarioOutcome], scale: float, realisms: Sequence[str], seed: int
) -> dict[str, object]:
    scenarios: dict[str, dict[str, object]] = {}
    for o in outcomes:
        entry = scenarios.setdefault(
            o.scenario.name,
            {
                "name": o.scenario.name,
                "group": o.scenario.group,
                "description": o.scenario.description,
                "steady": o.scenario.steady,
                "fleet": {
                    k: (v if not isinstance(v, float) or math.isfinite(v) else None)
                    for k, v in _fleet_dict(o)
                },
                "messages": o.messages,
                "realisms": {},
            },
        )
        entry["realisms"][o.realism] = {  # type: ignore[index]
            "results": {p: r.summary() for p, r in o.results.items()},
            "reference": o.reference.summary(),
            "goal": o.goal,
        }
        if o.bound:
            entry["realisms"][o.realism]["clairvoyant_bound"] = o.bound  # type: ignore[index]
    return {
        "scale": scale,
        "seed": seed,
        "realisms": list(realisms),
        "goal": {"slo_attainment": SLO_GOAL, "reference_reachable": REACHABLE, "cost_ratio": COST_GOAL},
        "goal_met": all(bool(o.goal["met"]) for o in outcomes),
        "goal_met_by_realism": {
            r: all(bool(o.goal["met"]) for o in outcomes if o.realism == r) for r in realisms
        },
        "scenarios": list(scenarios.values()),
    }


def _fleet_dict(outcome: ScenarioOutcome) -> list[tuple[str, object]]:
    """The fleet's parameters, with the ECS cooldowns the run took from the policy spec where the
    fleet once carried them (results.json keeps its keys)."""
    scenario_fleet = outcome.scenario.fleet
    config = scenario_fleet.control_plane(1.0)
    cooldowns = {
        "scale_out_cooldown_s": config.scale_out_cooldown_s,
        "scale_in_cooldown_s": config.scale_in_cooldown_s,
        "step_cooldown_s": config.step_cooldown_s,
    }
    items: list[tuple[str, object]] = []
    for key, value in asdict(scenario_fleet).items():
        items.append((key, str(scenario_fleet.platform) if key == "platform" else value))
        if key == "instance_warmup_s":
            items.extend(cooldowns.items())
    return items
