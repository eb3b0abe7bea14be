"""docs/demo.md's sample run cannot drift from the code.

The sample is a real `make demo` run (docs/demo-run.json, its summary.json) rendered by
qas.demo.docsample. These checks need no new run and no timing: the doc is exactly that rendering,
the run used today's defaults and initial-target formula, today's scaling model takes the same
decisions on the run's published datapoints (which policies act, in which order, to what capacity),
and the chart in the doc was drawn from that run. When one fails, `make demo-doc` makes a new sample.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from qas.demo.chart import data_digest
from qas.demo.config import DemoConfig
from qas.demo.control import Datapoints, evaluate
from qas.demo.docsample import CHART_FILE, DOC_FILE, RUN_FILE, elide, render, rows_and_actions, sample_block
from qas.demo.report import MinuteRow
from qas.demo.stack import deploy, initial_target
from qas.model.control_plane import ControlPlane, ControlPlaneConfig, Platform

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    return dict(json.loads((DOCS / RUN_FILE).read_text(encoding="utf-8")))


def test_the_docs_sample_is_the_rendering_of_the_recorded_run(run: dict[str, Any]) -> None:
    assert sample_block((DOCS / DOC_FILE).read_text(encoding="utf-8")) == render(run), (
        "docs/demo.md's sample run was edited by hand or its run changed: run `make demo-doc`"
    )


def test_the_recorded_run_is_the_default_demo_with_todays_initial_target(run: dict[str, Any]) -> None:
    defaults = DemoConfig()
    assert run["settings"] == defaults.settings()
    assert run["initial_target"] == initial_target(defaults)
    assert f"initial target {initial_target(defaults)} messages per instance" in "\n".join(run["transcript"])
    assert run["timeline"][0]["target"] == initial_target(defaults)
    assert run["lost"] == 0 and run["fleet_back_to_zero"] and not run["lambda_failures"]


def _config(recorded: dict[str, Any]) -> ControlPlaneConfig:
    """The model's settings as summary.json holds them (JSON arrays back to tuples)."""
    values = {
        k: tuple(tuple(v) for v in value) if isinstance(value, list) else value
        for k, value in recorded.items()
    }
    return ControlPlaneConfig(**{**values, "platform": Platform(values["platform"])})


def replay(run: dict[str, Any], config: ControlPlaneConfig) -> list[tuple[int, str, int, int, str]]:
    """The actions today's model takes on the run's published datapoints, minute by minute, with the
    target in force each minute (the demo evaluates exactly these, through qas.demo.control)."""
    rows, _ = rows_and_actions(run)
    model = ControlPlane(config)
    desired = running = 0
    applied = []
    for row in rows:
        if row.target != model.target:
            model.set_target(row.target)
        result = evaluate(model, row.minute, _published(row), desired, running)
        applied += [
            (row.minute, str(a.source), a.previous, a.capacity, a.reason) for a in result.actions if a.applied
        ]
        desired, running = row.desired, row.running
    return applied


def _published(row: MinuteRow) -> Datapoints:
    if row.published_running is None:
        return Datapoints(None, None, None, None, None)
    return Datapoints(
        row.backlog_per_instance,
        row.visible,
        row.in_flight,
        row.published_running,
        row.published_desired,
        row.scale_out_pressure,
        row.scale_in_pressure,
    )


@pytest.mark.slow
def test_the_recorded_model_is_the_one_the_demo_builds_today(run: dict[str, Any]) -> None:
    with deploy(DemoConfig()) as stack:
        today = json.loads(json.dumps(dataclasses.asdict(stack.control)))

    assert run["control"] == today, "the template's scaling resources changed: run `make demo-doc`"


def test_todays_model_takes_the_recorded_runs_decisions(run: dict[str, Any]) -> None:
    recorded = [
        (a["minute"], a["source"], a["previous"], a["capacity"], a["reason"]) for a in run["scaling_actions"]
    ]

    # On the run's datapoints the model acts as the run did: same policies, order, capacities, reasons.
    assert replay(run, _config(run["control"])) == recorded, "the scaling model changed: run `make demo-doc`"
    # The story the doc tells: from 0 by the bootstrap alarm, back to 0 at the end.
    assert recorded[0][1:3] == ("bootstrap", 0) and recorded[-1][3] == 0


def test_the_replay_notices_a_changed_policy(run: dict[str, Any]) -> None:
    # Given the recorded model with the scale-in lane taken out
    config = dataclasses.replace(_config(run["control"]), scale_in_lane_steps=())
    recorded = [
        (a["minute"], a["source"], a["previous"], a["capacity"], a["reason"]) for a in run["scaling_actions"]
    ]

    assert replay(run, config) != recorded


def test_the_docs_chart_was_drawn_from_the_recorded_run(run: dict[str, Any]) -> None:
    rows, actions = rows_and_actions(run)

    with Image.open(DOCS / CHART_FILE) as chart:
        assert chart.text.get("Description") == data_digest(rows, actions)  # type: ignore[attr-defined]


def test_elision_keeps_busy_minutes_and_shortens_instance_ids() -> None:
    transcript = [
        "header",
        "[min   0.0]  idle           0",
        "[min   1.0]   fleet: instance i-0123456789abcdef0 launched",
        "[min   1.0]  burst        150",
        "[min   2.0]  steady       160",
        "[min   3.0]  steady       158",
        "[min   4.0]   target-tracking: desired 4 -> 6",
        "[min   4.0]  steady       150",
        "[min   5.0]  steady       140",
        "[min   6.0]  steady       130",
    ]

    assert elide(transcript) == [
        "header",
        "[min   0.0]  idle           0",
        "[min   1.0]   fleet: instance i-0123... launched",
        "[min   1.0]  burst        150",
        "...",
        "[min   4.0]   target-tracking: desired 4 -> 6",
        "[min   4.0]  steady       150",
        "...",
        "[min   6.0]  steady       130",
    ]
