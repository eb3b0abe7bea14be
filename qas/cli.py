"""The `qas` console script: `qas simulate`, `qas bench`, `qas trace`, `qas plan`, `qas demo`,
`qas doctor` and `qas import`.

`qas simulate --trace PATH --slo-seconds S --max-capacity N --boot-seconds B --concurrency C
--policy NAME --json` prints one JSON object (the contract other tools rely on); without `--json`, a
table. `qas demo` imports the demo only when asked for, so the simulator works without it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qas import argtypes
from qas.argtypes import MAX_SIMULATED_CAPACITY
from qas.model.control_plane import Platform
from qas.plan import cli as plan_cli
from qas.plan.recommend import MAX_CONCURRENCY, SHUTDOWN_MINUTES_RANGE
from qas.sim import api_report, clairvoyant, explain, realism, timeline, warm_pool
from qas.sim.api_calls import CallModel
from qas.sim.bench import EXTRA_GROUPS, GROUPS, HTTP_SCENARIOS, SCENARIOS, run_bench
from qas.sim.multi_queue import check_weights, class_weights
from qas.sim.policies import EC2_PERIODS, IN_SERVICE_S, POLICIES, REFERENCE, SimFleet
from qas.sim.runner import simulate
from qas.sim.traces import read_csv, write_csv
from worker.settings import MAX_ROLLOUT_CHECK_SECONDS


def _steps(text: str) -> tuple[int, ...]:
    step = argtypes.whole(1, MAX_SIMULATED_CAPACITY)
    try:
        return tuple(step(part.strip()) for part in text.split(",") if part.strip())
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"each step {exc} (in {text!r})") from None


def _weights(text: str) -> tuple[float, ...]:
    weight = argtypes.real(0, low_open=True)
    try:
        return tuple(weight(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"each weight {exc} (in {text!r})") from None


def _add_fleet_options(parser: argparse.ArgumentParser, required: argparse._ArgumentGroup) -> None:
    """The deployment's parameters; ``required`` is the help section the mandatory ones go in."""
    required.add_argument(
        "--slo-seconds",
        type=argtypes.real(0, argtypes.MAX_SLO_S, low_open=True, why="SQS keeps a message 14 days"),
        required=True,
        help="latency SLO (LatencySloSeconds)",
    )
    required.add_argument(
        "--max-capacity",
        type=argtypes.whole(1, MAX_SIMULATED_CAPACITY, why="the simulator's limit"),
        required=True,
        help="MaxCapacity",
    )
    required.add_argument(
        "--boot-seconds",
        type=argtypes.real(0, argtypes.MAX_BOOT_S),
        required=True,
        help="launch to consuming",
    )
    required.add_argument(
        "--concurrency",
        type=argtypes.whole(1, MAX_CONCURRENCY, why="the template's WorkerConcurrency"),
        required=True,
        help="worker slots per instance",
    )
    parser.add_argument("--platform", choices=[p.value for p in Platform], default=Platform.EC2.value)
    parser.add_argument(
        "--shutdown-minutes",
        type=argtypes.whole(*SHUTDOWN_MINUTES_RANGE, why="the template's ShutdownAfterMinutes"),
        default=SimFleet.shutdown_minutes,
        help="ShutdownAfterMinutes",
    )
    parser.add_argument(
        "--bootstrap-capacity",
        type=argtypes.whole(1, MAX_SIMULATED_CAPACITY),
        default=SimFleet.bootstrap_capacity,
        help="ExactCapacity of the bootstrap policy",
    )
    parser.add_argument(
        "--bootstrap-steps",
        type=_steps,
        default=SimFleet.bootstrap_steps,
        help="comma-separated k: start k instances once visible >= k x the initial target ('' for none)",
    )
    parser.add_argument(
        "--lead-time-weight", type=argtypes.real(0, 1), default=1.0, help="LEAD_TIME_WEIGHT (0..1)"
    )
    parser.add_argument(
        "--instance-warmup-seconds",
        type=argtypes.real(0, argtypes.MAX_BOOT_S),
        default=None,
        help="EC2 DefaultInstanceWarmup (default: the boot time)",
    )
    parser.add_argument(
        "--period-seconds", type=int, choices=EC2_PERIODS, default=60, help="metric period: 60; 10, 30 on EC2"
    )
    _add_boot_options(parser)


def _add_boot_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-launch-hook",
        dest="launch_hook",
        action="store_false",
        help="EC2 without the template's launch lifecycle hook: InService before the worker consumes",
    )
    parser.add_argument(
        "--in-service-seconds",
        type=argtypes.real(0, argtypes.MAX_BOOT_S),
        default=IN_SERVICE_S,
        help="with --no-launch-hook: launch to InService (the rest of the boot is user data)",
    )


def _fleet(args: argparse.Namespace, **overrides: float | int) -> SimFleet:
    values: dict[str, object] = {
        "slo_s": args.slo_seconds,
        "max_capacity": args.max_capacity,
        "boot_s": args.boot_seconds,
        "concurrency": args.concurrency,
        "platform": Platform(args.platform),
        "shutdown_minutes": args.shutdown_minutes,
        "bootstrap_capacity": args.bootstrap_capacity,
        "bootstrap_steps": args.bootstrap_steps,
        "lead_time_weight": args.lead_time_weight,
        "instance_warmup_s": args.instance_warmup_seconds,
        "period_s": args.period_seconds,
        "launch_hook": args.launch_hook,
        "in_service_s": args.in_service_seconds,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SimFleet(**values)  # type: ignore[arg-type]


def _simulate(args: argparse.Namespace) -> int:
    trace = read_csv(Path(args.trace))
    if args.fifo and trace.group is None:  # a grouped trace runs as FIFO without the flag
        raise ValueError("--fifo needs the trace's group column (header arrival_s,processing_s,group)")
    check_weights(trace, args.queue_weights)  # before the run: a count that does not match is misuse
    started = time.perf_counter()
    fleet = _fleet(args)
    result = simulate(
        trace,
        args.policy,
        fleet,
        realism=realism.from_args(args, fleet.period_s),
        warm_pool=warm_pool.from_args(args, args.boot_seconds),
        attainment=args.attainment,
        record_timeline=args.timeline is not None,
        queue_weights=args.queue_weights,
    )
    if args.timeline is not None:
        timeline.write_csv(timeline.by_minute(result, trace, fleet.period_s), Path(args.timeline))
    summary: dict[str, object] = {"policy": args.policy, **result.summary()}
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    if args.json:
        print(json.dumps(summary))
    else:
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    scenarios = args.scenarios.split(",") if args.scenarios else None
    policies = args.policies.split(",") if args.policies else None
    report = run_bench(
        Path(args.out),
        scenarios=scenarios,
        policies=policies,
        scale=args.scale,
        charts=not args.no_charts,
        realisms=args.realism,
        groups=args.groups,
        seed=args.seed,
        in_service_s=None if args.launch_hook else args.in_service_seconds,
        bound=args.bound,
    )
    print(report.markdown_path.read_text())
    return 0 if report.goal_met or not args.strict else 1


def _api_calls(args: argparse.Namespace) -> int:
    rows = api_report.measure(
        scenarios=args.scenarios or api_report.LARGEST,
        realisms=args.realism,
        platforms=[Platform(p) for p in args.platforms],
        rollout_check_s=args.rollout_check_seconds,
    )
    if args.json:
        print(json.dumps({r.api: {"scenario": r.scenario, **r.peak.as_dict()} for r in rows}))
    else:
        print(api_report.markdown(rows))
    return 1 if api_report.over_quota(rows) else 0


def _trace(args: argparse.Namespace) -> int:
    scenario = {**SCENARIOS, **HTTP_SCENARIOS}[args.scenario]
    if args.split_classes and scenario.classes is None:
        raise ValueError(f"--split-classes: {args.scenario} has no job classes (http-bursts-mixed has)")
    trace = (
        scenario.classes(args.scale)
        if args.split_classes and scenario.classes
        else scenario.trace(args.scale)
    )
    write_csv(trace, Path(args.out))
    print(f"wrote {len(trace)} messages to {args.out}", file=sys.stderr)
    if trace.queue is not None:
        weights = ",".join(f"{w:.3g}" for w in class_weights(trace))
        print(
            f"each queue's mean processing time over the trace's (--queue-weights): {weights}",
            file=sys.stderr,
        )
    return 0


def _demo(argv: Sequence[str]) -> int:
    # Lazy: the demo (and its dependencies) load only for `qas demo`.
    try:
        from qas.demo import cli as demo_cli  # noqa: PLC0415 (lazy on purpose)
    except ImportError as exc:
        print(f"qas demo is not available: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="qas demo", description="the whole system on an emulated AWS")
    demo_cli.add_arguments(parser)
    return demo_cli.run(parser.parse_args(list(argv)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qas", description="queue-autoscaler: simulator, benchmark, demo")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="replay a trace under one scaling policy")
    required = sim.add_argument_group("required")
    required.add_argument(
        "--trace", required=True, help="CSV with header arrival_s,processing_s[,group|,queue]"
    )
    required.add_argument("--policy", required=True, choices=[*POLICIES, REFERENCE, clairvoyant.NAME])
    sim.add_argument("--json", action="store_true", help="print one JSON object")
    sim.add_argument(
        "--timeline",
        metavar="FILE",
        help="also write the run minute by minute as CSV: arrivals, late arrivals, the published counts,"
        " billed instances, desired, target (docs/simulator.md)",
    )
    sim.add_argument(
        "--attainment",
        type=argtypes.real(0, 1, low_open=True),
        default=clairvoyant.DEFAULT_ATTAINMENT,
        help="clairvoyant only: the SLO attainment its schedule must reach (the always-on ceiling minus"
        " half a point when that is lower)",
    )
    sim.add_argument(
        "--fifo", action="store_true", help="FIFO queue by the trace's group column (default if present)"
    )
    sim.add_argument(
        "--queue-weights",
        type=_weights,
        default=None,
        metavar="W0,W1,...",
        help="QueueWeights of a trace with a queue column (0 = main queue, served first): one per queue"
        " (default: all 1)",
    )
    _add_fleet_options(sim, required)
    warm_pool.add_arguments(sim)
    realism.add_arguments(sim)
    sim.set_defaults(func=_simulate)

    scale = argtypes.real(0, argtypes.MAX_SCALE, low_open=True)
    bench = sub.add_parser("bench", help="every policy on every scenario; writes results.md/.json and charts")
    bench.add_argument("--out", default="reports/bench", help="output directory")
    bench.add_argument("--scenarios", default="", help="comma-separated subset")
    bench.add_argument("--policies", default="", help="comma-separated subset")
    bench.add_argument("--scale", type=scale, default=1.0, help="trace length factor (tests: 0.1)")
    bench.add_argument("--no-charts", action="store_true")
    bench.add_argument("--strict", action="store_true", help="exit 1 when the goal is not met")
    bench.add_argument(
        "--realism",
        type=argtypes.names(realism.PRESETS),
        default=list(realism.PRESETS),
        help=f"comma-separated presets, side by side: {', '.join(realism.PRESETS)} (default: all)",
    )
    bench.add_argument(
        "--groups",
        type=argtypes.names(GROUPS + EXTRA_GROUPS),
        default=list(GROUPS),
        help=f"comma-separated scenario groups: {', '.join(GROUPS + EXTRA_GROUPS)} (default:"
        f" {', '.join(GROUPS)})",
    )
    bench.add_argument("--seed", type=int, default=1, help="seed of the realism's random draws")
    bench.add_argument(
        "--no-bound",
        dest="bound",
        action="store_false",
        help="skip the clairvoyant bound (each policy's cost / the bound at its attainment)",
    )
    _add_boot_options(bench)
    bench.set_defaults(func=_bench)

    calls = sub.add_parser("api-calls", help="AWS API calls per second at the largest scenarios' peak")
    calls.add_argument(
        "--scenarios",
        type=argtypes.names(tuple(SCENARIOS)),
        default=None,
        help="comma-separated (default: the largest fleets)",
    )
    calls.add_argument(
        "--realism",
        type=argtypes.names(realism.PRESETS),
        default=list(realism.PRESETS),
        help=f"comma-separated presets: {', '.join(realism.PRESETS)} (default: all)",
    )
    calls.add_argument(
        "--platforms",
        type=argtypes.names(tuple(p.value for p in Platform)),
        default=[p.value for p in Platform],
        help="comma-separated: EC2, ECS",
    )
    calls.add_argument(
        "--rollout-check-seconds",
        type=argtypes.real(0, MAX_ROLLOUT_CHECK_SECONDS),
        default=CallModel.rollout_check_s,
        help="ECS workers' WORKER_ROLLOUT_CHECK_SECONDS, the least interval of their DescribeServices"
        f" check (0: off; default: the worker's, {CallModel.rollout_check_s:g}); EC2 workers make no"
        " periodic check",
    )
    calls.add_argument("--json", action="store_true")
    calls.set_defaults(func=_api_calls)

    trace = sub.add_parser(
        "trace",
        help="write a benchmark scenario's trace as CSV",
        description="write a benchmark scenario's trace as CSV (qas simulate --trace reads it)",
        epilog="\n".join(
            ["scenarios:", *(f"  {n}: {s.description}" for n, s in {**SCENARIOS, **HTTP_SCENARIOS}.items())]
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trace.add_argument(
        "scenario", choices=[*SCENARIOS, *HTTP_SCENARIOS], metavar="SCENARIO", help="a scenario (below)"
    )
    trace.add_argument("--out", required=True, help="the CSV file to write")
    trace.add_argument("--scale", type=scale, default=1.0, help="trace length factor")
    trace.add_argument(
        "--split-classes",
        action="store_true",
        help="write the job classes as a queue column (http-bursts-mixed: long jobs on queue 1)",
    )
    trace.set_defaults(func=_trace)

    plan_cli.add_parser(sub)
    explain.add_parser(sub)

    # Listed for --help only: main() hands `qas demo ...` to the demo's own parser.
    sub.add_parser("demo", help="the whole system end to end on an emulated AWS (qas demo --help)")
    sub.add_parser("doctor", help="read-only checks of an account and a stack (qas doctor --help)")
    sub.add_parser("import", help="a Copilot Worker Service manifest as parameters (qas import --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:
        return _demo(argv[1:])
    if argv[:1] == ["doctor"]:
        from qas.doctor.cli import main as doctor  # noqa: PLC0415 (lazy, like the demo)

        return doctor(argv[1:])
    if argv[:1] == ["import"]:
        from qas.migrate.cli import main as import_  # noqa: PLC0415 (lazy, like the doctor)

        return import_(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help (0): a code, as every other outcome
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = args.func(args)
    except (OSError, ValueError) as exc:
        print(f"qas {args.command}: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
