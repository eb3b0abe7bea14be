"""`qas doctor preflight --config-env ENV`, `qas doctor stack STACK` and `qas doctor fleet` (an existing
group or service before attaching the stack to it); all read-only, with --region and --profile."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from qas import argtypes, emulator
from qas.doctor import config, fleet, fleet_reader, preflight, stack
from qas.doctor.findings import Finding, exit_code, ok, render
from qas.emulator import REPO_ROOT

ATTACH_EC2 = "ExistingAutoScalingGroupName"
ATTACH_ECS = ("ExistingEcsClusterName", "ExistingEcsServiceName")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qas doctor", description="read-only checks before and after a deploy"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: samconfig's, then the profile's)")
    common.add_argument("--profile", help="AWS named profile")
    sub = parser.add_subparsers(dest="check", required=True)
    pre = sub.add_parser("preflight", parents=[common], help="before `sam deploy --config-env ENV`")
    pre.add_argument("--config-env", default="default", help="samconfig.toml environment")
    pre.add_argument("--config-file", type=Path, default=REPO_ROOT / "samconfig.toml")
    pre.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    pre.add_argument("--no-sam-validate", action="store_true", help="skip `sam validate --lint`")
    after = sub.add_parser("stack", parents=[common], help="a deployed stack: alarms, metrics, tuner, DLQ")
    after.add_argument("stack_name", metavar="STACK")
    _add_fleet_parser(sub, common)
    return parser


def _add_fleet_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Any) -> None:
    existing = sub.add_parser(
        "fleet",
        parents=[common],
        help="an existing Auto Scaling group or ECS service, before the stack is attached to it",
        description="what on an existing group or service would fight the stack's scaling or lose work;"
        " the fleet comes from --asg, --cluster and --service, or from the samconfig environment's"
        f" {ATTACH_EC2} or {' + '.join(ATTACH_ECS)}",
    )
    existing.add_argument("--asg", metavar="NAME", help="the Auto Scaling group (EC2)")
    existing.add_argument("--cluster", help="the ECS cluster of --service")
    existing.add_argument("--service", help="the ECS service")
    existing.add_argument(
        "--config-env", help="samconfig.toml environment (default: default, without a fleet flag)"
    )
    existing.add_argument(
        "--stack",
        help="the stack's own policies (STACK-...) are not rivals (default: samconfig's stack_name)",
    )
    existing.add_argument("--config-file", type=Path, default=REPO_ROOT / "samconfig.toml")
    existing.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    existing.add_argument(
        "--max-capacity", type=argtypes.whole(0, 1000, why="the template's MaxCapacity"), help="MaxCapacity"
    )
    existing.add_argument(
        "--boot-seconds",
        type=argtypes.real(0, argtypes.MAX_BOOT_S),
        help="launch to consuming (default: WorkerBootTimeoutSeconds)",
    )
    existing.add_argument(
        "--longest-job-seconds",
        type=argtypes.real(0, argtypes.MAX_SLO_S, low_open=True),
        help="the longest job: ECS task protection must outlast it (default: not checked)",
    )


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        if args.check == "fleet":
            findings = _fleet(args)
        elif args.check == "preflight":
            deploy = config.read_samconfig(args.config_file, args.config_env)
            session = _session(args.profile, args.region or deploy.region)
            findings = preflight.run(session, deploy, args.template, sam_validate=not args.no_sam_validate)
        else:
            findings = stack.run(_session(args.profile, args.region), args.stack_name)
    except (ValueError, LookupError, OSError, BotoCoreError, ClientError) as exc:
        print(f"qas doctor {args.check}: {exc}", file=sys.stderr)
        return 2
    print(render(findings))
    return exit_code(findings)


def _session(profile: str | None, region: str | None) -> boto3.Session:
    session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise ValueError("no region: pass --region, or set one in samconfig.toml or the profile")
    return session


def _fleet(args: argparse.Namespace) -> list[Finding]:
    if args.asg and (args.cluster or args.service):
        raise ValueError(
            "--asg names an Auto Scaling group, --cluster and --service an ECS service: not both"
        )
    if bool(args.cluster) != bool(args.service):
        raise ValueError("--cluster and --service go together (a service is named by its cluster and name)")
    given: dict[str, str] = {}
    region = None
    stack_name = ""
    if args.config_env or not (args.asg or args.service):
        deploy = config.read_samconfig(args.config_file, args.config_env or "default")
        given, region, stack_name = deploy.parameters, deploy.region, deploy.stack_name
    values = {**config.effective_parameters(emulator.load_template(args.template), given), **given}
    asg = args.asg or values.get(ATTACH_EC2, "")
    cluster = args.cluster or values.get(ATTACH_ECS[0], "")
    service = args.service or values.get(ATTACH_ECS[1], "")
    if not (asg or (cluster and service)):
        raise ValueError(
            f"no existing fleet: pass --asg NAME or --cluster C --service S, or set {ATTACH_EC2} (or"
            f" {' and '.join(ATTACH_ECS)}) in --config-env's parameter_overrides"
        )
    attach = fleet.Attach(
        max_capacity=args.max_capacity if args.max_capacity is not None else int(values["MaxCapacity"]),
        boot_s=args.boot_seconds
        if args.boot_seconds is not None
        else float(values["WorkerBootTimeoutSeconds"]),
        longest_job_s=args.longest_job_seconds,
        stack_name=args.stack or stack_name,
    )
    session = _session(args.profile, args.region or region)
    if asg:
        findings = fleet.check_asg(fleet_reader.read_asg(session, asg), attach)
        name = asg
    else:
        findings = fleet.check_ecs(fleet_reader.read_ecs(session, cluster, service), attach)
        name = f"service/{cluster}/{service}"
    return findings or [ok(fleet.CHECK, f"nothing on {name} fights the stack's scaling or loses work")]
