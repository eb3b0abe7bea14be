"""`qas demo`: the whole system end to end on an emulated AWS (docs/demo.md)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

from qas.demo.config import PROFILES, DemoConfig
from qas.demo.procs import ProcessRegistry, StopRequestedError, interrupts_raise
from qas.demo.runner import DemoRun
from qas.demo.stack import deploy
from qas.demo.ui import Console
from scaling.control_plane import Platform

QUICK: dict[str, Any] = {
    "profile": "quick",
    "seconds_per_minute": 2.0,
    "slo_seconds": 10.0,
    "shutdown_after_minutes": 2,
    "max_capacity": 4,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = DemoConfig()
    parser.add_argument(
        "--platform",
        choices=[p.value for p in Platform],
        default=defaults.platform.value,
        help="EC2 Auto Scaling group or ECS service (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help=f"load profile (default: {defaults.profile.name})",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=None,
        metavar="MINUTES",
        help="demo minutes of load profile to play (default: the profile's length); "
        "the demo then runs on until the fleet is back at 0",
    )
    parser.add_argument(
        "--seconds-per-minute",
        type=float,
        default=None,
        help=f"real seconds per demo minute (default: {defaults.seconds_per_minute:g})",
    )
    parser.add_argument(
        "--slo-seconds",
        type=float,
        default=None,
        help=f"latency SLO in real seconds (default: {defaults.slo_seconds:g})",
    )
    parser.add_argument(
        "--boot-minutes",
        type=float,
        default=None,
        help=f"demo minutes from launch to a consuming worker (default: {defaults.boot_minutes:g})",
    )
    parser.add_argument(
        "--tuner-every",
        type=int,
        default=None,
        metavar="MINUTES",
        help="fire the target tuner every MINUTES demo minutes instead of on its hourly rule",
    )
    parser.add_argument(
        "--alarm-delay-minutes",
        type=int,
        default=None,
        help="the alarms act on a minute's datapoints this many demo minutes later (default: 0)",
    )
    parser.add_argument(
        "--missed-sample-rate",
        type=float,
        default=None,
        help="share of minutes the metric publisher does not run: missing datapoints (default: 0)",
    )
    parser.add_argument(
        "--fast-lane", choices=["on", "off"], default="on", help="the FastLane step policy (default: on)"
    )
    parser.add_argument(
        "--scale-in-lane", choices=["on", "off"], default="on", help="the ScaleInLane policy (default: on)"
    )
    parser.add_argument(
        "--keep-warm",
        type=int,
        default=None,
        metavar="MINUTES",
        help="KeepWarm=true with KeepWarmMinutes=MINUTES demo minutes (default: off)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--report-dir", default=defaults.report_dir, help="where summary.json and timeline.png go"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the short run the tests use (profile quick, 2 s per demo minute)",
    )


def config_from(args: argparse.Namespace) -> DemoConfig:
    """Defaults, then the --quick preset, then every option given explicitly."""
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    explicit = {
        "profile": args.profile,
        "seconds_per_minute": args.seconds_per_minute,
        "slo_seconds": args.slo_seconds,
        "boot_minutes": args.boot_minutes,
        "duration_minutes": args.duration,
        "tuner_every_minutes": args.tuner_every,
        "alarm_delay_minutes": args.alarm_delay_minutes,
        "missed_sample_rate": args.missed_sample_rate,
    }
    values.update({key: value for key, value in explicit.items() if value is not None})
    if "profile" in values:
        values["profile"] = PROFILES[values["profile"]]
    values.update(platform=Platform(args.platform), seed=args.seed, report_dir=args.report_dir)
    values.update(
        fast_lane=args.fast_lane == "on",
        scale_in_lane=args.scale_in_lane == "on",
        keep_warm_minutes=args.keep_warm,
    )
    return dataclasses.replace(DemoConfig(), **values)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from(args)
    except ValueError as error:
        print(f"qas demo: {error}", file=sys.stderr)
        return 2
    console = Console(sys.stdout, cfg.seconds_per_minute)
    registry = ProcessRegistry()
    started = time.monotonic()
    try:
        with interrupts_raise():
            console.line(f"qas demo: deploying template.yaml ({cfg.platform}) on a local moto server ...")
            with deploy(cfg) as stack:
                console.line(
                    f"deployed in {time.monotonic() - started:.1f} s; emulator at {stack.endpoint_url}"
                )
                demo = DemoRun(cfg, stack, registry, console)
                demo.print_header()
                summary = demo.run()
    except StopRequestedError as stop:
        console.line(f"\nqas demo: interrupted ({stop}); every process it started has been stopped")
        return 130
    finally:
        registry.kill_all()
    console.summary(summary)
    ok = summary["lost"] == 0 and summary["fleet_back_to_zero"]
    return 0 if ok else 1
