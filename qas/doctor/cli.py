"""`qas doctor preflight --config-env ENV` and `qas doctor stack STACK` (read-only; --region, --profile)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from qas.doctor import config, preflight, stack
from qas.doctor.findings import exit_code, render
from qas.emulator import REPO_ROOT


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
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        if args.check == "preflight":
            deploy = config.read_samconfig(args.config_file, args.config_env)
            session = _session(args.profile, args.region or deploy.region)
            findings = preflight.run(session, deploy, args.template, sam_validate=not args.no_sam_validate)
        else:
            findings = stack.run(_session(args.profile, args.region), args.stack_name)
    except (ValueError, OSError, BotoCoreError, ClientError) as exc:
        print(f"qas doctor {args.check}: {exc}", file=sys.stderr)
        return 2
    print(render(findings))
    return exit_code(findings)


def _session(profile: str | None, region: str | None) -> boto3.Session:
    session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise ValueError("no region: pass --region, or set one in samconfig.toml or the profile")
    return session
