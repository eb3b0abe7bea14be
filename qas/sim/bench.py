"""`qas bench`: every policy on every scenario; writes results.md, results.json and one chart each.

The goal checked for `tuned` on each scenario (the issue's): it loses nothing; no baseline both meets
the SLO more often and costs less; where the SLO is reachable at all (the always-on reference with
``max_capacity`` running from the start reaches >= 99%), >= 99% of messages meet it; and on steady
loads the cost is within 1.3x the work lower bound.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qas.sim import traces
from qas.sim.engine import SimResult
from qas.sim.policies import POLICIES, REFERENCE, FleetSettings
from qas.sim.runner import simulate
from qas.sim.scenarios_fifo import FIFO_SCENARIOS
from qas.sim.traces import Trace
from scaling.control_plane import Platform

SLO_GOAL = 0.99
COST_GOAL = 1.3
HOUR = 3600.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    fleet: FleetSettings
    make: Callable[[float], Trace]  # scale -> trace
    steady: bool = False  # the cost goal applies

    def trace(self, scale: float = 1.0) -> Trace:
        return self.make(scale)


def _fleet(
    slo_s: float,
    max_capacity: int,
    concurrency: int = 4,
    boot_s: float = 90.0,
    platform: Platform = Platform.EC2,
) -> FleetSettings:
    return FleetSettings(
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


@dataclass
class ScenarioOutcome:
    scenario: Scenario
    messages: int
    results: dict[str, SimResult]
    reference: SimResult
    goal: dict[str, object] = field(default_factory=dict)


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
    """The issue's goal for `tuned` against the baselines that ran."""
    tuned = results["tuned"]
    dominated_by = [
        name
        for name, r in results.items()
        if name != "tuned"
        and r.slo_attainment > tuned.slo_attainment
        and r.instance_seconds < tuned.instance_seconds
    ]
    reachable = reference.slo_attainment >= SLO_GOAL
    slo_met = tuned.slo_attainment >= SLO_GOAL if reachable else None
    cost_met = tuned.cost_ratio <= COST_GOAL if steady and reachable else None
    met = tuned.lost == 0 and not dominated_by and slo_met is not False and cost_met is not False
    return {
        "lost_nothing": tuned.lost == 0,
        "dominated_by": dominated_by,
        "slo_reachable": reachable,
        "reference_slo_attainment": round(reference.slo_attainment, 6),
        "slo_met": slo_met,
        "cost_within_1_3": cost_met,
        "met": met,
    }


def _chart(outcome: ScenarioOutcome, path: Path) -> None:
    # Imported here: matplotlib is slow to load and only the charts need it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for name, result in outcome.results.items():
        hours = [p.t_s / HOUR for p in result.timeline]
        top.step(hours, [p.desired for p in result.timeline], where="post", label=name, linewidth=1)
        bottom.plot(hours, [p.visible + p.in_flight for p in result.timeline], label=name, linewidth=1)
    top.set_ylabel("desired capacity")
    top.set_title(f"{outcome.scenario.name}: {outcome.scenario.description}", fontsize=9)
    top.legend(fontsize=8, ncol=3)
    bottom.set_ylabel("backlog (visible + in flight)")
    bottom.set_xlabel("hours")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt_goal(goal: dict[str, object]) -> str:
    if goal["met"]:
        return "met"
    parts = []
    if not goal["lost_nothing"]:
        parts.append("lost messages")
    if goal["dominated_by"]:
        parts.append(f"dominated by {', '.join(goal['dominated_by'])}")  # type: ignore[arg-type]
    if goal["slo_met"] is False:
        parts.append("SLO < 99%")
    if goal["cost_within_1_3"] is False:
        parts.append("cost > 1.3x")
    return "NOT met: " + "; ".join(parts)


def _summary_table(outcomes: list[ScenarioOutcome]) -> list[str]:
    """One line per scenario: SLO attainment / cost ratio of every policy, and the goal for `tuned`."""
    policies = list(outcomes[0].results) if outcomes else []
    lines = [
        "## Summary: SLO attainment / cost ratio",
        "",
        "| scenario | " + " | ".join(policies) + " | goal for `tuned` |",
        "|---|" + "---:|" * len(policies) + "---|",
    ]
    for o in outcomes:
        cells = [f"{o.results[p].slo_attainment:.2%} / {o.results[p].cost_ratio:.2f}" for p in policies]
        lines.append(f"| {o.scenario.name} | " + " | ".join(cells) + f" | {_fmt_goal(o.goal)} |")
    return [*lines, ""]


def _markdown(outcomes: list[ScenarioOutcome], scale: float) -> str:
    lines = [
        "# Scaling benchmark",
        "",
        f"Generated by `qas bench` (trace scale {scale:g}). Cost ratio = instance-seconds billed /"
        " work-seconds"
        " (sum of processing times / concurrency, the physical lower bound). `always-on-max` is a reference,"
        " not a policy: max capacity running from the start, so its SLO attainment is the best reachable.",
        "",
    ]
    lines += _summary_table(outcomes)
    for o in outcomes:
        s = o.scenario
        goal = o.goal
        steady = " The cost goal (<= 1.3x) applies." if s.steady else ""
        reach = "reachable" if goal["slo_reachable"] else "NOT reachable"
        lines += [
            f"## {s.name}",
            "",
            f"{s.description}; {o.messages} messages, max capacity {s.fleet.max_capacity}, "
            f"concurrency {s.fleet.concurrency}, boot {s.fleet.boot_s:g} s.{steady} SLO {reach} "
            f"(reference attainment {goal['reference_slo_attainment']:.2%}). "
            f"Goal for `tuned`: **{_fmt_goal(goal)}**.",
            "",
            "| policy | lost | SLO attainment | p50 s | p95 s | p99 s | instance-h | cost ratio | actions "
            "| peak |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, r in [*o.results.items(), (REFERENCE, o.reference)]:
            label = f"**{name}**" if name == "tuned" else (f"_{name}_" if name == REFERENCE else name)
            lines.append(
                f"| {label} | {r.lost} | {r.slo_attainment:.2%} | {r.latency_p50_s:.0f} "
                f"| {r.latency_p95_s:.0f} | {r.latency_p99_s:.0f} | {r.instance_seconds / HOUR:.1f} "
                f"| {r.cost_ratio:.2f} "
                f"| {r.scale_actions} | {r.peak_capacity} |"
            )
        lines.append("")
    return "\n".join(lines)


def run_bench(
    out_dir: Path,
    *,
    scenarios: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    scale: float = 1.0,
    charts: bool = True,
) -> BenchReport:
    names = list(scenarios or SCENARIOS)
    chosen = list(policies or POLICIES)
    unknown = [n for n in names if n not in SCENARIOS] + [p for p in chosen if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown scenario or policy: {', '.join(unknown)}")
    if "tuned" not in chosen:
        chosen.insert(0, "tuned")
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[ScenarioOutcome] = []
    chart_paths: list[Path] = []
    for name in names:
        scenario = SCENARIOS[name]
        trace = scenario.trace(scale)
        results = {p: simulate(trace, p, scenario.fleet, record_timeline=charts) for p in chosen}
        reference = simulate(trace, REFERENCE, scenario.fleet)
        outcome = ScenarioOutcome(scenario, len(trace), results, reference)
        outcome.goal = judge(results, reference, scenario.steady)
        outcomes.append(outcome)
        if charts:
            path = out_dir / f"{name}.png"
            _chart(outcome, path)
            chart_paths.append(path)

    md_path, json_path = out_dir / "results.md", out_dir / "results.json"
    md_path.write_text(_markdown(outcomes, scale))
    payload = {
        "scale": scale,
        "goal": {"slo_attainment": SLO_GOAL, "cost_ratio": COST_GOAL},
        "goal_met": all(bool(o.goal["met"]) for o in outcomes),
        "scenarios": [
            {
                "name": o.scenario.name,
                "description": o.scenario.description,
                "steady": o.scenario.steady,
                "fleet": {
                    k: (v if not isinstance(v, float) or math.isfinite(v) else None)
                    for k, v in _fleet_dict(o)
                },
                "messages": o.messages,
                "results": {p: r.summary() for p, r in o.results.items()},
                "reference": o.reference.summary(),
                "goal": o.goal,
            }
            for o in outcomes
        ],
    }
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    return BenchReport(outcomes, md_path, json_path, chart_paths)


def _fleet_dict(outcome: ScenarioOutcome) -> list[tuple[str, object]]:
    fleet = asdict(outcome.scenario.fleet)
    fleet["platform"] = str(outcome.scenario.fleet.platform)
    return list(fleet.items())
