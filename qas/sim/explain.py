"""`qas explain SCENARIO`: where a policy's misses and its cost over the clairvoyant bound come from.

It runs one bench scenario (the same trace, fleet, realism preset and seed as `qas bench`) under the
policy and under the bound's cheapest replayed schedule at the policy's attainment, and prints
- the cost split of each: instance-seconds billed while messages wait or run, and while the queue
  is empty (what scale-in waits and idle holds cost);
- the late episodes, most misses first, each with its minute-by-minute timeline (`qas.sim.timeline`).
docs/simulator.md quotes its output for every scenario where `make bench`'s goal is missed.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from qas import argtypes
from qas.sim import clairvoyant, realism
from qas.sim.bench import EXTRA_GROUPS, GROUPS, scenarios_of
from qas.sim.policies import POLICIES, REFERENCE
from qas.sim.results import SimResult
from qas.sim.runner import simulate
from qas.sim.timeline import Minute, by_minute, cost_split, episodes, format_rows

ROWS_BEFORE = 3  # minutes shown before an episode's first late arrival
MAX_ROWS = 16  # rows shown per episode (its first minutes: where the cause is)


@dataclass(frozen=True)
class Explanation:
    scenario: str
    policy: str
    realism: str
    seed: int
    result: SimResult
    rows: list[Minute]
    bound: SimResult | None  # None for a FIFO or several-queue scenario (the bench has no bound there)
    period_s: float
    slo_s: float
    bound_rows: list[Minute] | None = None


def explain(
    scenario_name: str, policy: str = "tuned", realism_name: str = "aws", seed: int = 1, scale: float = 1.0
) -> Explanation:
    available = scenarios_of(GROUPS + EXTRA_GROUPS)
    if scenario_name not in available:
        raise ValueError(f"unknown scenario {scenario_name!r}; choose from {', '.join(sorted(available))}")
    scenario = available[scenario_name]
    trace = scenario.trace(scale)
    fleet = scenario.fleet
    real = realism.preset(realism_name, fleet.period_s, seed)
    result = simulate(
        trace,
        policy,
        fleet,
        record_timeline=True,
        realism=real,
        queue_weights=scenario.queue_weights,
        warm_pool=scenario.warm_pool,
    )
    bound = None
    if clairvoyant.models(trace):  # as in `qas bench`: the bound plans on the ideal engine
        replays = clairvoyant.frontier_replays(trace, fleet, record_timeline=True)
        points = [clairvoyant.Point(r.slo_attainment, r.instance_seconds) for r in replays]
        chosen = clairvoyant.bound_at(points, result.slo_attainment)
        bound = replays[points.index(chosen)] if chosen is not None else None
    period = float(fleet.period_s)
    rows = by_minute(result, trace, period)
    bound_rows = by_minute(bound, trace, period) if bound is not None else None
    return Explanation(
        scenario_name, policy, realism_name, seed, result, rows, bound, period, fleet.slo_s, bound_rows
    )


@dataclass(frozen=True)
class Span:
    """Consecutive minutes in which either run bills an instance; ``excess_s`` is the policy's
    instance-seconds minus the bound's over them."""

    first: int
    last: int
    excess_s: float


def spans(rows: list[Minute], bound_rows: list[Minute]) -> list[Span]:
    """Where the policy pays more than the bound, most excess first."""
    found: list[Span] = []
    zero = Minute(0, 0, 0, 0, 0, 0, 0, 0, None, 0.0, 0.0)
    for m in range(max(len(rows), len(bound_rows))):
        p = rows[m] if m < len(rows) else zero
        b = bound_rows[m] if m < len(bound_rows) else zero
        if p.billed_s == 0 and b.billed_s == 0:
            continue
        excess = p.billed_s - b.billed_s
        if found and found[-1].last == m - 1:
            found[-1] = Span(found[-1].first, m, found[-1].excess_s + excess)
        else:
            found.append(Span(m, m, excess))
    return sorted(found, key=lambda s: (-s.excess_s, s.first))


def side_by_side(rows: list[Minute], bound_rows: list[Minute], span: Span, policy: str) -> str:
    """The span's minutes (every k-th when it is longer than MAX_ROWS): the queue as the policy's run
    published it, and what each run billed and desired."""
    stride = max(1, -(-(span.last - span.first + 1) // MAX_ROWS))
    lines = [
        f"| min | visible | in flight | oldest s | {policy} billed | {policy} desired "
        "| bound billed | bound visible |",
        "|" + "---:|" * 8,
    ]
    for m in range(span.first, span.last + 1, stride):
        p, b = rows[min(m, len(rows) - 1)], bound_rows[min(m, len(bound_rows) - 1)]
        lines.append(
            f"| {m} | {p.visible} | {p.in_flight} | {p.oldest_age_s:g} | {p.billed} | {p.desired} "
            f"| {b.billed} | {b.visible} |"
        )
    if stride > 1:
        lines.append(f"\n(every {stride} minutes)")
    return "\n".join(lines)


def report(x: Explanation, top: int = 3) -> str:
    r = x.result
    lines = [
        f"# {x.scenario}: {x.policy}, realism {x.realism}, seed {x.seed}",
        "",
        f"{x.policy}: SLO attainment {r.slo_attainment:.2%}, cost ratio {r.cost_ratio:.3f}, "
        f"{r.instance_seconds / 3600:.1f} instance-hours, {len(r.late_arrival_s)} late of {r.messages}",
    ]
    split = cost_split(r, x.period_s)
    table = [
        "",
        "| run | attainment | instance-h | with work waiting or running | queue empty |",
        "|---|---:|---:|---:|---:|",
        _split_row(x.policy, r, split.with_work_s, split.queue_empty_s),
    ]
    if x.bound is not None:
        b = cost_split(x.bound, x.period_s)
        table.append(_split_row("bound", x.bound, b.with_work_s, b.queue_empty_s))
        lines.append(
            f"bound at that attainment: {x.bound.slo_attainment:.2%}, "
            f"{x.bound.instance_seconds / 3600:.1f} instance-hours; "
            f"{x.policy} / bound = {r.instance_seconds / x.bound.instance_seconds:.2f}"
        )
    lines += table
    if x.bound_rows is not None:
        for span in [s for s in spans(x.rows, x.bound_rows) if s.excess_s > 0][:top]:
            lines += [
                "",
                f"## minutes {span.first}-{span.last}: {x.policy} bills {span.excess_s / 3600:+.2f} "
                "instance-hours over the bound",
                "",
                side_by_side(x.rows, x.bound_rows, span, x.policy),
            ]
    found = episodes(x.rows, join_minutes=5)
    lines += ["", f"late episodes: {len(found)}"]
    for episode in found[:top]:
        first = max(0, episode.first - ROWS_BEFORE)
        # Until a message that arrived in the episode's last minute has waited one SLO, or longer
        # while the queue holds work: the misses' fate.
        end = episode.last + 2 + math.ceil(x.slo_s / 60)
        while end < len(x.rows) and x.rows[end - 1].visible + x.rows[end - 1].in_flight > 0:
            end += 1
        shown = x.rows[first : min(end, first + MAX_ROWS)]
        lines += [
            "",
            f"## minutes {episode.first}-{episode.last}: {episode.late} late",
            "",
            format_rows(shown),
        ]
    return "\n".join(lines) + "\n"


def _split_row(name: str, r: SimResult, with_work_s: float, empty_s: float) -> str:
    return (
        f"| {name} | {r.slo_attainment:.2%} | {r.instance_seconds / 3600:.1f} "
        f"| {with_work_s / 3600:.1f} | {empty_s / 3600:.1f} |"
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "explain",
        help="where a policy's misses and its cost over the bound come from, minute by minute",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("scenario", help="a bench scenario (qas bench's names, any group)")
    parser.add_argument("--policy", default="tuned", choices=[*POLICIES, REFERENCE], help="default: tuned")
    parser.add_argument("--realism", default="aws", choices=realism.PRESETS, help="default: aws")
    parser.add_argument("--seed", type=argtypes.whole(0), default=1, help="the realism's random draws")
    parser.add_argument("--scale", type=argtypes.real(0, argtypes.MAX_SCALE, low_open=True), default=1.0)
    parser.add_argument("--top", type=argtypes.whole(0, 100), default=3, help="episodes shown (default 3)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    x = explain(args.scenario, args.policy, args.realism, args.seed, args.scale)
    print(report(x, args.top), end="")
    return 0
