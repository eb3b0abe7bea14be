"""reports/demo/timeline.png: what the chart shows is computed here, by pure functions, then drawn.

Five panels on one demo-minute axis: the queue; backlog per instance against the target; the
fleet (serving, booting and draining stacked, so their top is every instance that exists, with the
desired capacity and what the backlog needs at the target); one lane per scaling policy with its
actions; the p95 latency against the SLO. Every time is on the demo clock (docs/demo.md). Legends
sit outside the panels and action labels inside their lane, placed so that none overlaps another.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qas.demo.report import ActionRecord, MinuteRow
from qas.model.control_plane import Source

# Figure geometry (inches, points, shares of the figure width); the label placement below uses it
# to know how many characters fit in a demo minute, and tests/demo checks the drawn result.
FIG_WIDTH_IN = 12.0
FIG_HEIGHT_IN = 12.5
LEFT, RIGHT = 0.12, 0.76  # the panels' share of the width: lane names left, legends right
LABEL_PT = 8.0
_CHAR_EM = 0.62  # average width of a label character, in ems (DejaVu Sans digits and arrows)
LABEL_GAP_MIN = 0.25  # demo minutes between a marker and its label
X_PAD_MIN = 0.5  # demo minutes of margin either side of the timeline
LANES: tuple[Source, ...] = (
    Source.BOOTSTRAP,
    Source.FAST_LANE,
    Source.TARGET_TRACKING,
    Source.SCALE_IN_LANE,
    Source.SHUTDOWN,
)


@dataclass(frozen=True)
class ActionMark:
    """One applied scaling action in its policy's lane: a marker at ``minute``, its label beside it."""

    minute: int
    lane: int  # index into LANES
    row: int  # 0 = the lane's first line; more when labels would overlap
    text: str  # "desired before -> after"
    scale_out: bool
    start: float  # the label's extent on the minute axis (estimated from LABEL_PT)
    end: float

    @property
    def align(self) -> str:
        return "left" if self.start > self.minute else "right"


@dataclass(frozen=True)
class ChartData:
    minutes: list[int]
    x_range: tuple[float, float]
    queue: dict[str, list[int]]
    per_instance: dict[str, list[float | None]]
    capacity: dict[str, list[int]]  # serving + booting + draining = every instance that exists
    desired: list[int]
    needed: list[int | None]  # ceil(backlog / target): what target tracking sizes the fleet at
    latency_p95_min: list[float | None]  # demo minutes
    slo_min: float
    marks: list[ActionMark]
    lane_rows: list[int]  # lines per lane (at least 1)

    def lane_y(self, lane: int, row: int) -> float:
        """Height of a label line: lanes top to bottom in LANES order, one unit per line."""
        above = sum(self.lane_rows[:lane])
        return float(sum(self.lane_rows) - above - row) - 0.5


def minutes_per_char(x_span: float) -> float:
    """Demo minutes one label character takes on the drawn axis."""
    axis_in = FIG_WIDTH_IN * (RIGHT - LEFT)
    return x_span * (LABEL_PT * _CHAR_EM / 72) / axis_in


def place_marks(actions: Sequence[ActionRecord], x_range: tuple[float, float]) -> list[ActionMark]:
    """Each action in its lane, its label right of the marker (left of it near the right edge),
    on the first line of the lane where it overlaps no other label."""
    x_min, x_max = x_range
    per_char = minutes_per_char(x_max - x_min)
    taken: dict[tuple[int, int], list[tuple[float, float]]] = {}
    marks = []
    for action in sorted(actions, key=lambda a: a.minute):
        lane = LANES.index(Source(action.source))
        text = f"{action.previous}\u2192{action.capacity}"
        width = len(text) * per_char
        start = action.minute + LABEL_GAP_MIN
        if start + width > x_max:
            start = action.minute - LABEL_GAP_MIN - width
        end = start + width
        row = 0
        # The marker itself occupies its minute too: a later label must not run over it.
        extent = (min(start, action.minute - per_char), max(end, action.minute + per_char))
        while any(a < extent[1] and extent[0] < b for a, b in taken.get((lane, row), [])):
            row += 1
        taken.setdefault((lane, row), []).append(extent)
        marks.append(
            ActionMark(action.minute, lane, row, text, action.capacity > action.previous, start, end)
        )
    return marks


def chart_data(
    rows: Sequence[MinuteRow], actions: Sequence[ActionRecord], slo_s: float, seconds_per_minute: float
) -> ChartData:
    minutes = [row.minute for row in rows]
    last = max(minutes, default=0)
    x_range = (-X_PAD_MIN, last + X_PAD_MIN)
    marks = place_marks(actions, x_range)
    lane_rows = [1 + max((m.row for m in marks if m.lane == lane), default=0) for lane in range(len(LANES))]
    return ChartData(
        minutes=minutes,
        x_range=x_range,
        queue={
            "visible": [row.visible for row in rows],
            "in flight": [row.in_flight for row in rows],
        },
        per_instance={
            "backlog per instance (published)": [row.backlog_per_instance for row in rows],
            "target": [row.target for row in rows],
        },
        capacity={
            "serving (worker running)": [row.running for row in rows],
            "booting (launched, no worker yet)": [row.booting for row in rows],
            "draining (SIGTERM, finishing jobs)": [row.draining for row in rows],
        },
        desired=[row.desired for row in rows],
        needed=[needed_instances(row) for row in rows],
        latency_p95_min=[
            None if row.latency_p95_s is None else row.latency_p95_s / seconds_per_minute for row in rows
        ],
        slo_min=slo_s / seconds_per_minute,
        marks=marks,
        lane_rows=lane_rows,
    )


def needed_instances(row: MinuteRow) -> int | None:
    """ceil(published backlog / target): the capacity target tracking asks for; None when missing."""
    if row.published_running is None:
        return None
    return math.ceil((row.visible + row.in_flight) / row.target)


def data_digest(rows: Sequence[MinuteRow], actions: Sequence[ActionRecord]) -> str:
    """A fingerprint of the chart's data, stored in the PNG: docs/demo-timeline.png names its run."""
    payload = {"rows": [asdict(r) for r in rows], "actions": [asdict(a) for a in actions]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def write_timeline(
    path: Path,
    rows: Sequence[MinuteRow],
    actions: Sequence[ActionRecord],
    slo_s: float,
    seconds_per_minute: float,
) -> None:
    """Draw chart_data (matplotlib, Agg backend) to ``path``."""
    import matplotlib  # noqa: PLC0415 - imported only when a chart is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig = draw(chart_data(rows, actions, slo_s, seconds_per_minute), seconds_per_minute)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Description": data_digest(rows, actions)})
    plt.close(fig)


def draw(data: ChartData, seconds_per_minute: float) -> Any:
    """The figure for ``data`` (returned open, so tests can measure where things were drawn)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    lanes_height = 0.35 * sum(data.lane_rows) + 0.4
    fig, axes = plt.subplots(
        5,
        1,
        figsize=(FIG_WIDTH_IN, FIG_HEIGHT_IN),
        sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1.6, 2.2, lanes_height, 1.6]},
    )
    ax_queue, ax_ratio, ax_cap, ax_lanes, ax_lat = axes
    fig.subplots_adjust(left=LEFT, right=RIGHT, top=0.95, bottom=0.05, hspace=0.3)
    fig.suptitle(
        f"queue-autoscaler demo: every time in demo minutes (1 demo minute = {seconds_per_minute:g} s real)"
    )
    x = data.minutes
    for ax in axes:
        ax.set_xlim(*data.x_range)
        for mark in data.marks:
            ax.axvline(mark.minute, color="0.85", lw=0.8, zorder=0)

    ax_queue.plot(x, data.queue["visible"], label="visible", color="tab:blue")
    ax_queue.plot(x, data.queue["in flight"], label="in flight", color="tab:cyan")
    ax_queue.set_ylabel("messages")

    backlog, target = data.per_instance.values()
    ax_ratio.plot(x, backlog, label="backlog per instance\n(published metric)", color="tab:orange")
    ax_ratio.step(x, target, where="post", label="target", color="tab:red", ls="--")
    ax_ratio.set_ylabel("messages\nper instance")

    stacked = list(data.capacity.items())
    base = [0] * len(x)
    for (name, values), color in zip(stacked, ("tab:green", "tab:olive", "tab:gray"), strict=True):
        top = [b + v for b, v in zip(base, values, strict=True)]
        ax_cap.fill_between(x, base, top, step="post", color=color, alpha=0.45, lw=0, label=name)
        base = top
    ax_cap.step(x, data.desired, where="post", color="tab:purple", lw=2, label="desired")
    needed = [math.nan if n is None else n for n in data.needed]
    ax_cap.step(x, needed, where="post", color="black", ls=":", label="backlog / target,\nrounded up")
    ax_cap.set_ylabel("instances")

    for mark in data.marks:
        y = data.lane_y(mark.lane, mark.row)
        ax_lanes.plot(mark.minute, y, marker="^" if mark.scale_out else "v", color="tab:purple", ms=7, ls="")
        at = mark.start if mark.align == "left" else mark.end
        ax_lanes.text(at, y, mark.text, ha=mark.align, va="center", fontsize=LABEL_PT)
    ax_lanes.set_ylim(0, sum(data.lane_rows))
    ax_lanes.set_yticks([data.lane_y(lane, 0) for lane in range(len(LANES))])
    ax_lanes.set_yticklabels([str(source) for source in LANES], fontsize=LABEL_PT)
    for lane in range(1, len(LANES)):
        ax_lanes.axhline(sum(data.lane_rows) - sum(data.lane_rows[:lane]), color="0.9", lw=0.8)
    ax_lanes.set_title("scaling actions (desired before\u2192after)", fontsize="small", loc="left")

    ax_lat.plot(x, data.latency_p95_min, marker=".", label="p95 latency of the\nminute's completions")
    ax_lat.axhline(data.slo_min, color="tab:red", ls="--", label=f"SLO {data.slo_min:g} demo min")
    ax_lat.set_ylabel("latency\n(demo min)")
    ax_lat.set_xlabel("demo minute")
    ax_lat.set_ylim(0, max([data.slo_min, *(v for v in data.latency_p95_min if v is not None)]) * 1.15)

    for ax in (ax_queue, ax_ratio, ax_cap, ax_lat):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
    return fig
