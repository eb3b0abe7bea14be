"""`qas demo`: the whole system end to end on an emulated AWS (docs/demo.md)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qas.demo.config import PROFILES, DemoConfig
from qas.demo.lambdas import rate_minutes
from qas.demo.procs import ProcessRegistry, StopRequestedError, interrupts_raise
from qas.demo.runner import DemoRun
from qas.demo.stack import deploy, stack_parameters
from qas.demo.ui import Console
from qas.emulator import load_template
from qas.model.control_plane import Platform

QUICK: dict[str, Any] = {
    "profile": "quick",
    "seconds_per_minute": 2.0,
    "slo_seconds": 10.0,
    "shutdown_after_minutes": 2,
    "max_capacity": 4,
}


# The flag behind each stack parameter the demo sets, for errors that name what the user typed.
PARAMETER_FLAGS = {
    "LatencySloSeconds": "--slo-seconds",
    "CapacityLeadSeconds": "--seconds-per-minute/--boot-minutes",
    "InitialTarget": "--slo-seconds/--seconds-per-minute/--boot-minutes",
    "KeepWarmMinutes": "--keep-warm",
    "WorkerPlatform": "--platform",
    "FastLane": "--fast-lane",
    "ScaleInLane": "--scale-in-lane",
}


def _on_off(enabled: bool) -> str:
    return "on" if enabled else "off"


@functools.cache
def template_parameters() -> dict[str, Any]:
    """template.yaml's Parameters: the one definition of their defaults and allowed values."""
    return dict(load_template()["Parameters"])


def tuner_rule() -> str:
    """The tuner's schedule as the template deploys it by default, for --help."""
    schedule = str(template_parameters()["TunerSchedule"]["Default"])
    every = rate_minutes(schedule)
    return schedule if every is None else f"{schedule}: every {every} demo min"


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
        help=f"fire the target tuner every MINUTES demo minutes instead of on its rule ({tuner_rule()})",
    )
    parser.add_argument(
        "--alarm-delay-minutes",
        type=int,
        default=None,
        help="the alarms act on a minute's datapoints this many demo minutes later "
        f"(default: {defaults.alarm_delay_minutes})",
    )
    parser.add_argument(
        "--missed-sample-rate",
        type=float,
        default=None,
        help="share of minutes the metric publisher does not run: missing datapoints "
        f"(default: {defaults.missed_sample_rate:g})",
    )
    parser.add_argument(
        "--fast-lane",
        choices=["on", "off"],
        default=_on_off(defaults.fast_lane),
        help="the FastLane step policy (default: %(default)s)",
    )
    parser.add_argument(
        "--scale-in-lane",
        choices=["on", "off"],
        default=_on_off(defaults.scale_in_lane),
        help="the ScaleInLane step policy (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-warm",
        type=int,
        default=None,
        metavar="MINUTES",
        help="KeepWarm=true with KeepWarmMinutes=MINUTES demo minutes (default: off)",
    )
    parser.add_argument(
        "--attach",
        action="store_true",
        help="create the group (EC2) or service (ECS) outside the stack first, then deploy the stack "
        "in attach mode onto it (docs/attach.md)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--report-dir",
        default=defaults.report_dir,
        help="where summary.json, timeline.png and logs/ go (default: %(default)s)",
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
        attach=args.attach,
    )
    return dataclasses.replace(DemoConfig(), **values)


def check_report_dir(path: str) -> None:
    """Raise ValueError naming --report-dir unless the reports and logs can be written there."""
    directory = Path(path)
    try:
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
        for name in ("summary.json", "timeline.png"):
            existing = directory / name
            if existing.exists() and (existing.is_dir() or not os.access(existing, os.W_OK)):
                raise ValueError(f"--report-dir {path}: {existing} cannot be overwritten")
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"--report-dir {path}: cannot write reports there ({reason})") from None


def check_stack_parameters(cfg: DemoConfig) -> None:
    """Raise ValueError naming the flag when a parameter the demo derives breaks the template's rules."""
    declared = template_parameters()
    for name, value in stack_parameters(cfg).items():
        rules = declared[name]
        flag = PARAMETER_FLAGS.get(name, "the demo's settings")
        allowed = rules.get("AllowedValues")
        if allowed is not None and value not in [str(v) for v in allowed]:
            raise ValueError(f"{flag}: {name}={value} is not one of {allowed}")
        if rules.get("Type") == "Number":
            number = float(value)
            low, high = rules.get("MinValue"), rules.get("MaxValue")
            if (low is not None and number < float(low)) or (high is not None and number > float(high)):
                bounds = " and ".join(
                    f"{word} {bound}"
                    for word, bound in (("at least", low), ("at most", high))
                    if bound is not None
                )
                raise ValueError(f"{flag}: the template needs {name} {bounds}, the demo would pass {value}")


def run(args: argparse.Namespace) -> int:
    # Every flag is checked before anything starts: a bad one must not cost a deploy.
    try:
        cfg = config_from(args)
        check_stack_parameters(cfg)
        check_report_dir(cfg.report_dir)
    except ValueError as error:
        print(f"qas demo: {error}", file=sys.stderr)
        return 2
    console = Console(sys.stdout, cfg.seconds_per_minute)
    registry = ProcessRegistry()
    started = time.monotonic()
    try:
        with interrupts_raise():
            mode = (
                f"{cfg.platform}, attached to a fleet made outside the stack" if cfg.attach else cfg.platform
            )
            console.line(f"qas demo: deploying template.yaml ({mode}) on a local moto server ...")
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
