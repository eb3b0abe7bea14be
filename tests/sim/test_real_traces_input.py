"""The real traces' README drives the `real` benchmark group: a broken scenario block is an error
naming the README and the scenario, not a KeyError traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qas.sim import real_traces


def _readme(folder: Path, block: str) -> Path:
    readme = folder / "README.md"
    readme.write_text(f"# traces\n\n## Suggested scenarios\n\n```json\n{block}\n```\n")
    return readme


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            '{"d1": {"slo": 300, "max": 10, "boot": 180, "conc": 1, "steady": true}}',
            "scenario d1: no 'reachable'",
        ),
        (
            '{"d1": {"slo": "soon", "max": 10, "boot": 180, "conc": 1, "steady": true, "reachable": true}}',
            "scenario d1: slo must be a finite number > 0, got 'soon'",
        ),
        (
            '{"d1": {"slo": 300, "max": 0, "boot": 180, "conc": 1, "steady": true, "reachable": true}}',
            "scenario d1: max must be a whole number >= 1, got 0",
        ),
        ('{"d1": [1, 2]}', "scenario d1: expected an object of slo, max, boot, conc, steady, reachable"),
        ('{"d1": {"slo": 300,}}', "the JSON block under '## Suggested scenarios' is not JSON"),
    ],
)
def test_a_broken_scenario_block_names_the_readme_and_the_scenario(
    tmp_path: Path, block: str, message: str
) -> None:
    readme = _readme(tmp_path, block)
    with pytest.raises(ValueError, match="^" + re.escape(f"{readme}: {message}")):
        real_traces.specs(tmp_path)


def test_a_good_block_still_reads(tmp_path: Path) -> None:
    _readme(
        tmp_path,
        '{"d1": {"slo": 300, "max": 10, "boot": 180, "conc": 1, "steady": true, "reachable": false}}',
    )
    (spec,) = real_traces.specs(tmp_path)
    assert (spec.name, spec.fleet.slo_s, spec.fleet.max_capacity, spec.reachable) == ("d1", 300.0, 10, False)
