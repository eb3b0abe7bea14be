"""docs/demo.md's sample run and docs/demo-timeline.png, made from a real run so they cannot drift.

    make demo-doc    # qas demo with its defaults, then: python -m qas.demo.docsample reports/demo

The run's summary.json is kept as docs/demo-run.json. The doc's sample is that run's own transcript
(long instance ids shortened, quiet minutes elided) and its printed summary, between two markers;
the chart is redrawn from the same rows. tests/demo/test_demo_doc.py checks that the doc is exactly
this rendering, that the run used the demo's defaults and today's initial-target formula, and that
today's scaling model takes the same decisions on the run's datapoints: change the policy and the
test asks for a new sample.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from qas.demo.chart import write_timeline
from qas.demo.config import DemoConfig
from qas.demo.report import ActionRecord, MinuteRow
from qas.demo.ui import summary_lines

BEGIN = "<!-- sample run: made by `make demo-doc` from docs/demo-run.json; do not edit by hand -->"
END = "<!-- end of the sample run -->"
RUN_FILE = "demo-run.json"
CHART_FILE = "demo-timeline.png"
DOC_FILE = "demo.md"

_PROGRESS = re.compile(r"^\[min +(\d+)\.0\]  \S")  # a progress row: two spaces, then the phase
_EVENT = re.compile(r"^\[min +(\d+)\.\d\]   ")  # an event: three spaces
_INSTANCE_ID = re.compile(r"\b(i-[0-9a-f]{4})[0-9a-f]{13}\b")


def elide(transcript: list[str]) -> list[str]:
    """The transcript with instance ids shortened and the progress rows of quiet minutes (no event
    in them, neither first nor last) replaced by one "..." per stretch."""
    lines = [_INSTANCE_ID.sub(r"\1...", line) for line in transcript]
    busy = {int(m.group(1)) for line in lines if (m := _EVENT.match(line))}
    rows = [i for i, line in enumerate(lines) if _PROGRESS.match(line)]
    ends = {rows[0], rows[-1]} if rows else set()
    kept: list[str] = []
    for index, line in enumerate(lines):
        match = _PROGRESS.match(line)
        if match and int(match.group(1)) not in busy and index not in ends:
            if not kept or kept[-1] != "...":
                kept.append("...")
            continue
        kept.append(line)
    return kept


def render(summary: dict[str, Any]) -> str:
    """The sample block of docs/demo.md for this run (markers and fence included)."""
    body = "\n".join([*elide(summary["transcript"]), *summary_lines(summary)])
    return f"{BEGIN}\n```text\n{body}\n```\n{END}"


def sample_block(doc: str) -> str:
    """The sample block as it stands in docs/demo.md."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/{DOC_FILE} has no sample-run markers")
    return doc[start : end + len(END)]


def rows_and_actions(summary: dict[str, Any]) -> tuple[list[MinuteRow], list[ActionRecord]]:
    rows = [MinuteRow(**{**row, "alarms": tuple(row["alarms"])}) for row in summary["timeline"]]
    return rows, [ActionRecord(**action) for action in summary["scaling_actions"]]


def not_the_default_run(summary: dict[str, Any]) -> list[str]:
    """Why this run cannot stand for `make demo` in the docs (empty: it can)."""
    problems = [
        f"{name} is {summary['settings'].get(name)!r}, the default is {value!r}"
        for name, value in DemoConfig().settings().items()
        if summary["settings"].get(name) != value
    ]
    if summary["lost"] or not summary["fleet_back_to_zero"] or summary["lambda_failures"]:
        problems.append("the run lost messages, failed an invocation or did not end at 0")
    return problems


def update(report_dir: Path, docs_dir: Path) -> None:
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    problems = not_the_default_run(summary)
    if problems:
        raise ValueError(f"{report_dir}/summary.json is not a default `make demo` run: {'; '.join(problems)}")
    doc_path = docs_dir / DOC_FILE
    doc = doc_path.read_text(encoding="utf-8")
    doc_path.write_text(doc.replace(sample_block(doc), render(summary)), encoding="utf-8")
    (docs_dir / RUN_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    rows, actions = rows_and_actions(summary)
    write_timeline(
        docs_dir / CHART_FILE, rows, actions, summary["slo_seconds"], summary["seconds_per_minute"]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qas.demo.docsample", description=__doc__.split("\n")[0])
    parser.add_argument("report_dir", nargs="?", default=DemoConfig().report_dir, help="the run's reports")
    parser.add_argument("--docs", default="docs", help="where demo.md, demo-run.json and the chart are")
    args = parser.parse_args(argv)
    try:
        update(Path(args.report_dir), Path(args.docs))
    except KeyError as error:
        print(
            f"qas.demo.docsample: {args.report_dir}/summary.json has no {error}: run qas demo again",
            file=sys.stderr,
        )
        return 2
    except (OSError, ValueError) as error:
        print(f"qas.demo.docsample: {error}", file=sys.stderr)
        return 2
    print(f"updated {args.docs}/{DOC_FILE}, {args.docs}/{RUN_FILE} and {args.docs}/{CHART_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
