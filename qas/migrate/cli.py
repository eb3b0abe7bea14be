"""`qas import copilot MANIFEST [--env ENV] [--app APP] [--concurrency N] [--json]`: prints the samconfig
`parameter_overrides` that reproduce a Copilot Worker Service here, the attach-mode parameters that point
the stack at the service Copilot created, the fields that do not carry over and what changes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from qas import argtypes
from qas.migrate.copilot import Conversion, ManifestError, convert
from qas.plan.recommend import MAX_CONCURRENCY


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qas import", description="another tool's settings as parameters")
    sub = parser.add_subparsers(dest="tool", required=True)
    copilot = sub.add_parser(
        "copilot",
        help="a Copilot Worker Service manifest (copilot/SVC/manifest.yml)",
        description="print the samconfig parameter_overrides that reproduce a Copilot Worker Service",
    )
    copilot.add_argument("manifest", type=Path, metavar="MANIFEST", help="the service's manifest.yml")
    copilot.add_argument("--env", help="the Copilot environment: applies environments.ENV, names its cluster")
    copilot.add_argument("--app", help="the Copilot application: names its cluster and service")
    copilot.add_argument(
        "--concurrency",
        type=argtypes.whole(1, MAX_CONCURRENCY, why="the template's WorkerConcurrency"),
        default=1,
        help="messages one task works on at once (default 1, what Copilot's target assumes)",
    )
    copilot.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        manifest = yaml.safe_load(args.manifest.read_text(encoding="utf-8"))
        conversion = convert(manifest, env=args.env, app=args.app, concurrency=args.concurrency)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        print(f"qas import copilot: {args.manifest}: cannot read it: {exc}", file=sys.stderr)
        return 2
    except ManifestError as exc:
        print(f"qas import copilot: {args.manifest}: {exc}", file=sys.stderr)
        return 2
    print(as_json(conversion) if args.json else as_text(conversion))
    return 0


def as_json(conversion: Conversion) -> str:
    return json.dumps(
        {
            "service": conversion.service,
            "parameter_overrides": conversion.overrides(),
            "attach": conversion.attach,
            "not_carried": [{"field": where, "why": why} for where, why in conversion.not_carried],
            "changes": conversion.changes,
        }
    )


def as_text(conversion: Conversion) -> str:
    lines = [
        f"# Copilot Worker Service {conversion.service!r} as this stack's parameters (samconfig.toml)",
        "parameter_overrides = [",
        *(f'  "{item}",' for item in conversion.overrides()),
        "]",
        "",
        "# Attach mode (the stack scales the service Copilot created; nothing moves), add:",
        *(f"#   {name}=...  ({where})" for name, where in conversion.attach.items()),
        "",
        "# Not carried over:",
        *(f"#   {where}: {why}" for where, why in conversion.not_carried),
        *(["#   (nothing)"] if not conversion.not_carried else []),
        "",
        "# What changes:",
        *(f"#   - {change}" for change in conversion.changes),
    ]
    return "\n".join(lines)
