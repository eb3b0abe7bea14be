"""docs/contracts.md lists every metric the parts publish: the publisher's (scaling/backlog.py, by the
policy spec's names) and the worker's (worker/metrics.py), each a row of its metrics table with who
publishes it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from queue_autoscaler.scaling.policy_spec import METRICS

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = (REPO / "docs" / "contracts.md").read_text()
# CamelCase string constants of two words or more: metric names, plus the API's own keys below.
_NAME = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]+)+")
_NOT_METRICS = {"MetricName", "FleetName"}


def published_names(source: Path) -> set[str]:
    """The metric names a module publishes: its CamelCase string constants (the worker's) and the
    policy spec's names it reads as `METRICS.field` (the publisher's)."""
    tree = ast.parse(source.read_text())
    literals = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAME.fullmatch(node.value)
    }
    from_spec = {
        str(getattr(METRICS, node.attr))
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "METRICS"
    }
    return (literals | from_spec) - _NOT_METRICS


def _rows() -> dict[str, str]:
    """Metric name -> who publishes it, from the table's rows (a row may name several metrics)."""
    rows: dict[str, str] = {}
    for line in CONTRACTS.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            for name in re.findall(r"`(\w+)`", cells[0]):
                rows[name] = cells[2]
    return rows


@pytest.mark.parametrize(
    ("source", "publisher"),
    [("worker/metrics.py", "worker"), ("src/queue_autoscaler/scaling/backlog.py", "metric publisher")],
)
def test_every_published_metric_has_its_row(source: str, publisher: str) -> None:
    names = published_names(REPO / source)
    assert names, f"no metric names found in {source}"
    rows = _rows()
    assert {name: rows.get(name) for name in sorted(names)} == dict.fromkeys(sorted(names), publisher)


def test_names_are_read_from_the_source() -> None:
    assert {"MsgProcessingDuration", "RunningJobs"} <= published_names(REPO / "worker" / "metrics.py")
