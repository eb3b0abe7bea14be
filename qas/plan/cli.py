"""`qas plan`: recommended template parameters for a workload, with the simulator's prediction and
the monthly cost (docs/deploy.md, "Planning capacity")."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from qas import argtypes
from qas.argtypes import MAX_BOOT_S, MAX_SLO_S
from qas.model.control_plane import Platform
from qas.model.platforms import model_platform
from qas.plan import class_split, history, workloads
from qas.plan import frontier as plan_frontier
from qas.plan import warm_pool as plan_warm_pool
from qas.plan.prices import HOURS_PER_MONTH, MAX_PRICE_PER_HOUR, PRICES_AS_OF, monthly_costs, prices_for
from qas.plan.recommend import (
    MAX_CAPACITY_CEILING,
    MAX_CONCURRENCY,
    MIN_SLO_S,
    Plan,
    PlanRequest,
    check_steady_load,
    plan,
)
from qas.plan.workloads import MAX_SIGMA
from qas.sim import warm_pool
from qas.sim.realism import PRESETS
from qas.sim.traces import MAX_PROCESSING_S, MAX_SPAN_DAYS, Trace

DEFAULT_SIGMA = 0.5  # the benchmark's steady scenarios: lognormal processing times, sigma 0.5
DEFAULT_DAYS = 7


# Flags that only one workload source reads: given with another, they would be silently ignored.
_ONLY_WITH = {
    "duration_seconds": "rate_per_minute",
    "duration_sigma": "rate_per_minute",
    "hours": "rate_per_minute",
    "days": "stack",
}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "plan",
        help="recommend MaxCapacity, InitialTarget, ... for a workload",
        description="recommend template parameters for a workload, checked on the simulator",
    )
    workload = parser.add_argument_group("workload (one of them is required)")
    source = workload.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", help="CSV arrival_s,processing_s (as qas simulate)")
    source.add_argument(
        "--rate-per-minute",
        type=argtypes.real(0, low_open=True),
        help="a steady load: messages per minute (with --duration-seconds)",
    )
    source.add_argument("--stack", help="a deployed stack: read its CloudWatch history (read only)")
    steady = parser.add_argument_group("with --rate-per-minute")
    steady.add_argument(
        "--duration-seconds",
        type=argtypes.real(0, MAX_PROCESSING_S, low_open=True, why="a week"),
        help="mean processing time (required)",
    )
    steady.add_argument(
        "--duration-sigma",
        type=argtypes.real(0, MAX_SIGMA),
        help=f"lognormal sigma (0: fixed; default {DEFAULT_SIGMA})",
    )
    steady.add_argument(
        "--hours",
        type=argtypes.real(0, MAX_SPAN_DAYS * 24, low_open=True, why=f"{MAX_SPAN_DAYS} days"),
        help=f"how long the load lasts (default {workloads.SYNTHETIC_HOURS:g})",
    )
    parser.add_argument(
        "--days",
        type=argtypes.whole(1, history.MAX_DAYS, why=f"CloudWatch keeps hourly data {history.MAX_DAYS} days"),
        help=f"with --stack: days of history (default {DEFAULT_DAYS})",
    )
    fleet = parser.add_argument_group(
        "the fleet (required with --trace or --rate-per-minute; --stack: the stack's)"
    )
    fleet.add_argument(
        "--slo-seconds",
        type=argtypes.real(MIN_SLO_S, MAX_SLO_S, why="the template's minimum; SQS keeps a message 14 days"),
        help="LatencySloSeconds",
    )
    fleet.add_argument(
        "--boot-seconds",
        type=argtypes.real(0, MAX_BOOT_S),
        help="launch to consuming (--stack: its CapacityLeadSeconds - 180)",
    )
    fleet.add_argument(
        "--concurrency",
        type=argtypes.whole(1, MAX_CONCURRENCY, why="the template's WorkerConcurrency"),
        help="WorkerConcurrency",
    )
    parser.add_argument("--platform", choices=[p.value for p in Platform], help="EC2 (default) or ECS")
    parser.add_argument(
        "--max-capacity",
        type=argtypes.whole(1, MAX_CAPACITY_CEILING, why="the template's MaxCapacity"),
        help=f"the most instances you allow (default: {MAX_CAPACITY_CEILING})",
    )
    parser.add_argument(
        "--price-per-hour",
        type=argtypes.real(0, MAX_PRICE_PER_HOUR, low_open=True, why="USD per instance-hour"),
        help="your price of one instance or task, USD",
    )
    parser.add_argument(
        "--realism", choices=PRESETS, default="aws", help="the simulator's AWS model for the prediction (aws)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    warm_pool.add_arguments(parser)
    parser.set_defaults(func=run)


def _source_name(args: argparse.Namespace) -> str:
    return (
        "--trace" if args.trace is not None else "--stack" if args.stack is not None else "--rate-per-minute"
    )


def _reject_ignored(args: argparse.Namespace) -> None:
    for dest, owner in _ONLY_WITH.items():
        if getattr(args, dest) is not None and getattr(args, owner) is None:
            raise ValueError(
                f"{_flag(dest)} does not apply to {_source_name(args)}: it goes with {_flag(owner)}"
            )


def _from_stack(args: argparse.Namespace) -> tuple[Trace, dict[str, Any], str]:
    """A stack's history as a trace, the defaults it brings (its parameters), and where it came from."""
    import boto3  # noqa: PLC0415 - only --stack talks to AWS
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from queue_autoscaler.adapters.clients import CLIENT_CONFIG  # noqa: PLC0415

    days = DEFAULT_DAYS if args.days is None else args.days
    try:
        facts = history.describe_stack(boto3.client("cloudformation", config=CLIENT_CONFIG), args.stack)
        past = history.read_history(boto3.client("cloudwatch", config=CLIENT_CONFIG), facts, days)
    except (BotoCoreError, ClientError) as exc:
        raise ValueError(f"--stack {args.stack}: {exc}") from exc
    defaults = {
        "slo_seconds": facts.slo_s,
        "boot_seconds": facts.boot_s,
        "concurrency": facts.concurrency,
        "platform": facts.platform.value,
    }
    where = f"stack {facts.name}: {days} days of CloudWatch history ({past.period_s} s periods)"
    return history.to_trace(past), defaults, where


def _steady(args: argparse.Namespace, request: PlanRequest) -> tuple[Trace, str]:
    """The steady load, checked before it is generated: past the fleet's ceiling or the simulator's
    messages it would only take long to say what the numbers say at once."""
    sigma = DEFAULT_SIGMA if args.duration_sigma is None else args.duration_sigma
    hours = workloads.SYNTHETIC_HOURS if args.hours is None else args.hours
    check_steady_load(args.rate_per_minute, args.duration_seconds, request)
    trace = workloads.steady(args.rate_per_minute, args.duration_seconds, sigma, hours)
    where = (
        f"{args.rate_per_minute:g} messages/min for {hours:g} h, {args.duration_seconds:g} s "
        f"each (lognormal sigma {sigma:g})"
    )
    return trace, where


def request_from(args: argparse.Namespace, defaults: dict[str, Any]) -> PlanRequest:
    def pick(name: str, fallback: Any = None) -> Any:
        value = getattr(args, name)
        value = defaults.get(name, fallback) if value is None else value
        if value is None:
            raise ValueError(f"--{name.replace('_', '-')} is required")
        return value

    return PlanRequest(
        slo_s=float(pick("slo_seconds")),
        boot_s=float(pick("boot_seconds")),
        concurrency=int(pick("concurrency")),
        platform=Platform(pick("platform", Platform.EC2.value)),
        max_capacity_limit=args.max_capacity,
        realism=args.realism,
    )


def as_dict(found: Plan, price_per_hour: float | None) -> dict[str, Any]:
    result, workload = found.result, found.workload
    prices = prices_for(found.request.platform, price_per_hour)
    if found.warm_pool is not None:  # On-Demand only, and the pool's volumes and refills on top
        prices = prices[:1]
    costs = monthly_costs(found.average_instances, result.peak_capacity, prices)
    if found.warm_pool is not None:
        extra = plan_warm_pool.pool_usd_per_month(result, found.warm_pool, prices[0].per_hour)
        costs = [dataclasses.replace(cost, autoscaled_usd=cost.autoscaled_usd + extra) for cost in costs]
    return {
        "reachable": found.reachable,
        "why_not": found.why_not,
        "max_capacity": found.max_capacity,
        "initial_target": found.initial_target,
        "capacity_lead_seconds": found.capacity_lead_s,
        "shutdown_after_minutes": found.shutdown_after_minutes,
        "keep_warm_minutes": found.keep_warm_minutes,
        "worker_concurrency": found.request.concurrency,
        "parameter_overrides": found.parameter_overrides,
        "predicted": {
            "slo_attainment": round(result.slo_attainment, 6),
            "goal": found.request.goal,
            "realism": found.request.realism,
            "cost_ratio": round(result.cost_ratio, 4),
            "latency_p95_s": round(result.latency_p95_s, 1),
            "latency_p99_s": round(result.latency_p99_s, 1),
            "average_instances": round(found.average_instances, 3),
            "peak_capacity": result.peak_capacity,
            "always_on_slo_attainment": round(found.reference.slo_attainment, 6),
        },
        "monthly_cost_usd": {cost.price.name: cost.as_dict() for cost in costs},
        "prices_as_of": PRICES_AS_OF,
        "workload": {
            "messages": workload.messages,
            "hours": round(workload.span_s / 3600, 3),
            "mean_processing_s": round(workload.stats.mean_s, 3),
            "p99_processing_s": round(workload.stats.tail_s or workload.stats.mean_s, 3),
            "busiest_window_s": round(workload.window_s, 1),
            "busiest_window_instances": round(workload.peak_instances, 2),
        },
        "trials": [vars(t) for t in found.trials],
        "idle_hold": None if found.hold is None else found.hold.as_dict(),
    }


def samconfig_block(overrides: dict[str, str], env: str = "default") -> str:
    lines = [f"[{env}.deploy.parameters]", "parameter_overrides = ["]
    lines += [f'  "{key}={value}",' for key, value in overrides.items()]
    return "\n".join([*lines, "]"])


def render(found: Plan, data: dict[str, Any], where: str) -> str:
    w, p, request = data["workload"], data["predicted"], found.request
    out = [
        f"qas plan: {where}",
        f"workload: {w['messages']} messages over {w['hours']:.1f} h, {w['mean_processing_s']:.1f} s per job "
        f"on average (p99 {w['p99_processing_s']:.0f} s); the busiest {w['busiest_window_s']:.0f} s bring "
        f"{w['busiest_window_instances']:.1f} instances' worth of work",
        f"fleet: {request.platform}, {request.concurrency} slots per instance, boot {request.boot_s:g} s, "
        f"SLO {request.slo_s:g} s",
        "",
    ]
    if not found.reachable:
        out += ["SLO OUT OF REACH:", *(f"  - {reason}" for reason in found.why_not), ""]
        out.append("the closest the planner got (not a recommendation):")
    else:
        out.append("add to samconfig.toml (with your SubnetIds and SecurityGroupIds):")
    out += [samconfig_block(found.parameter_overrides), ""]
    out.append(
        f"predicted (simulator, realism {found.request.realism}, policy tuned, these parameters): "
        f"{p['slo_attainment']:.2%} of messages "
        f"within the SLO (goal {p['goal']:.0%}; always on at MaxCapacity: "
        f"{p['always_on_slo_attainment']:.2%}), "
        f"p95 {p['latency_p95_s']:g} s; cost ratio {p['cost_ratio']:.2f} (billed / work), "
        f"{p['average_instances']:.2f} instances on average, peak {p['peak_capacity']}"
    )
    out.append(f"monthly cost ({HOURS_PER_MONTH:g} h; prices {data['prices_as_of']}):")
    for cost in data["monthly_cost_usd"].values():
        saved = 1 - cost["autoscaled"] / cost["always_on_at_peak"] if cost["always_on_at_peak"] else 0.0
        out.append(
            f"  {cost['what']:<38} ${cost['price_per_hour']:.4f}/h  autoscaled ${cost['autoscaled']:,.2f}"
            f"  always on at peak ({p['peak_capacity']}) ${cost['always_on_at_peak']:,.2f}"
            f"  ({saved:.0%} less)"
        )
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    _reject_ignored(args)
    if args.stack is not None:
        trace, defaults, where = _from_stack(args)
        request = request_from(args, defaults)
    elif args.trace is not None:
        trace, where = workloads.from_csv(Path(args.trace)), f"trace {args.trace}"
        request = request_from(args, {})
    else:
        if args.duration_seconds is None:
            raise ValueError("--rate-per-minute needs --duration-seconds")
        request = request_from(args, {})
        trace, where = _steady(args, request)
    pool = _pool_flags(args, request)
    base = plan(trace, request)
    options = plan_frontier.explore(
        base,
        trace,
        warm_boot_s=args.warm_boot_seconds,
        given_size=args.warm_pool,
        price_per_hour=args.price_per_hour,
        volume_gb=args.warm_volume_gb,
        ebs_usd_per_gb_month=args.ebs_price_per_gb_month,
    )
    found = plan_frontier.adopt(base, options)
    data = as_dict(found, args.price_per_hour)
    data["frontier"] = options.as_dict()
    text = None if args.json else "\n".join([render(found, data, where), "", *options.render()])
    if pool is not None:  # the pool asked for: with and without, at the plan's own parameters
        verdict = plan_warm_pool.assess(base, trace, pool, args.price_per_hour)
        data["warm_pool"] = verdict.as_dict()
        text = None if text is None else "\n".join([text, *verdict.render()])
    split = class_split.assess(found, trace)  # long jobs on their own queue, when the trace has them
    if split is not None:
        data["class_split"] = split.as_dict()
        text = None if text is None else "\n".join([text, "", *split.render()])
    print(json.dumps(data) if text is None else text)
    return 0 if found.reachable else 1


def _pool_flags(args: argparse.Namespace, request: PlanRequest) -> warm_pool.WarmPoolSettings | None:
    """The pool asked for with --warm-pool N (None without); --warm-boot-seconds alone sets the warm
    start the frontier tries pools with. Both checked before any simulation."""
    if args.warm_pool:
        plan_warm_pool.check(request.platform)
        return warm_pool.from_args(args, request.boot_s)
    if args.warm_boot_seconds is not None:
        if not model_platform(request.platform).warm_pool:
            raise ValueError(
                "--warm-boot-seconds is EC2 only: a warm pool is an EC2 Auto Scaling feature (ECS has none)"
            )
        if args.warm_boot_seconds >= request.boot_s:
            raise ValueError(
                f"--warm-boot-seconds {args.warm_boot_seconds:g} must be below --boot-seconds "
                f"{request.boot_s:g}: a pool would gain nothing"
            )
    return None
