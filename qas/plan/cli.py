"""`qas plan`: recommended template parameters for a workload, with the simulator's prediction and
the monthly cost (docs/deploy.md, "Planning capacity")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qas.plan import history, workloads
from qas.plan.prices import HOURS_PER_MONTH, PRICES_AS_OF, monthly_costs, prices_for
from qas.plan.recommend import Plan, PlanRequest, plan
from qas.sim.realism import PRESETS
from qas.sim.traces import Trace
from scaling.control_plane import Platform

DEFAULT_SIGMA = 0.5  # the benchmark's steady scenarios: lognormal processing times, sigma 0.5
DEFAULT_DAYS = 7


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("plan", help="recommend MaxCapacity, InitialTarget, ... for a workload")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", help="CSV arrival_s,processing_s (as qas simulate)")
    source.add_argument("--rate-per-minute", type=float, help="a steady load: messages per minute")
    source.add_argument("--stack", help="a deployed stack: read its CloudWatch history (read only)")
    parser.add_argument("--duration-seconds", type=float, help="with --rate-per-minute: mean processing time")
    parser.add_argument(
        "--duration-sigma", type=float, default=DEFAULT_SIGMA, help="lognormal sigma (0: fixed; default 0.5)"
    )
    parser.add_argument(
        "--hours", type=float, default=workloads.SYNTHETIC_HOURS, help="with --rate-per-minute: hours (6)"
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="with --stack: days of history")
    parser.add_argument("--slo-seconds", type=float, help="LatencySloSeconds (--stack: the stack's)")
    parser.add_argument("--boot-seconds", type=float, help="launch to consuming (--stack: its lead - 180)")
    parser.add_argument("--concurrency", type=int, help="WorkerConcurrency (--stack: the stack's)")
    parser.add_argument("--platform", choices=[p.value for p in Platform], help="EC2 (default) or ECS")
    parser.add_argument("--max-capacity", type=int, help="the most instances you allow (default: 1000)")
    parser.add_argument("--price-per-hour", type=float, help="your price of one instance or task, USD")
    parser.add_argument(
        "--realism", choices=PRESETS, default="aws", help="the simulator's AWS model for the prediction (aws)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _source(args: argparse.Namespace) -> tuple[Trace, dict[str, Any], str]:
    """The trace, the defaults it brings (a stack's parameters), and a line saying where it came from."""
    if args.trace:
        return workloads.from_csv(Path(args.trace)), {}, f"trace {args.trace}"
    if args.rate_per_minute is not None:
        if args.duration_seconds is None:
            raise ValueError("--rate-per-minute needs --duration-seconds")
        trace = workloads.steady(args.rate_per_minute, args.duration_seconds, args.duration_sigma, args.hours)
        return (
            trace,
            {},
            (
                f"{args.rate_per_minute:g} messages/min for {args.hours:g} h, {args.duration_seconds:g} s "
                f"each (lognormal sigma {args.duration_sigma:g})"
            ),
        )
    import boto3  # noqa: PLC0415 - only --stack talks to AWS
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from adapters.clients import CLIENT_CONFIG  # noqa: PLC0415

    try:
        facts = history.describe_stack(boto3.client("cloudformation", config=CLIENT_CONFIG), args.stack)
        past = history.read_history(boto3.client("cloudwatch", config=CLIENT_CONFIG), facts, args.days)
    except (BotoCoreError, ClientError) as exc:
        raise ValueError(f"--stack {args.stack}: {exc}") from exc
    defaults = {
        "slo_seconds": facts.slo_s,
        "boot_seconds": facts.boot_s,
        "concurrency": facts.concurrency,
        "platform": facts.platform.value,
    }
    return (
        history.to_trace(past),
        defaults,
        (f"stack {facts.name}: {args.days} days of CloudWatch history ({past.period_s} s periods)"),
    )


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
    costs = monthly_costs(
        found.average_instances, result.peak_capacity, prices_for(found.request.platform, price_per_hour)
    )
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
    trace, defaults, where = _source(args)
    found = plan(trace, request_from(args, defaults))
    data = as_dict(found, args.price_per_hour)
    print(json.dumps(data) if args.json else render(found, data, where))
    return 0 if found.reachable else 1
