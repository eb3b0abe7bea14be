"""The README's benchmark figures are the committed results' own: the number of checks (scenario x
realism), how many of them need the measured traces outside the repository, and how many run without."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = json.loads((REPO / "reports" / "bench" / "results.json").read_text())
README = " ".join((REPO / "README.md").read_text().split())


def _checks(group: str | None = None) -> int:
    return sum(
        len(scenario["realisms"])
        for scenario in RESULTS["scenarios"]
        if group is None or scenario["group"] == group
    )


def _figure(pattern: str) -> int:
    match = re.search(pattern, README)
    assert match, f"README.md no longer says {pattern!r}"
    return int(match.group(1))


def test_the_headline_counts_every_check_of_the_results() -> None:
    assert _figure(r"the goal holds on all (\d+) benchmark checks") == _checks()


def test_the_readme_says_which_checks_need_the_traces_beside_the_clone() -> None:
    real = _checks("real")
    assert real > 0
    assert _figure(r"The (\d+) checks on the measured traces need them beside the clone") == real
    assert _figure(r"runs the other (\d+)\.") == _checks() - real


def test_the_results_were_met_where_the_readme_says_all() -> None:
    unmet = [
        f"{scenario['name']} ({realism})"
        for scenario in RESULTS["scenarios"]
        for realism, result in scenario["realisms"].items()
        if not result["goal"]["met"]
    ]
    assert not unmet, unmet
