"""The chart's data (qas.demo.chart): honest capacity series, one lane per policy, labels that overlap
nothing and stay inside, legends outside the panels, every time on the demo clock."""

from __future__ import annotations

import matplotlib
import pytest

from qas.demo.chart import LANES, ActionMark, ChartData, chart_data, draw, minutes_per_char, place_marks
from qas.demo.report import ActionRecord, MinuteRow
from qas.model.control_plane import Source

matplotlib.use("Agg")


def row(minute: int, **values: object) -> MinuteRow:
    fields: dict[str, object] = {
        "minute": minute,
        "real_s": minute * 5.0,
        "phase": "steady",
        "visible": 0,
        "in_flight": 0,
        "desired": 0,
        "running": 0,
        "instances": 0,
        "target": 25.0,
        "backlog_per_instance": 0.0,
        "processed": 0,
        "dlq": 0,
        "latency_p95_s": None,
        "published_running": 0,
        "published_desired": 0,
    }
    fields.update(values)
    return MinuteRow(**fields)  # type: ignore[arg-type]


def act(minute: int, source: Source, previous: int, capacity: int) -> ActionRecord:
    return ActionRecord(minute, minute * 5.0, str(source), previous, capacity, "reason")


# A scale-in that leaves busy instances draining while a new one boots: every state at once.
ROWS = [
    row(0),
    row(1, visible=150, desired=4, booting=4, instances=4, published_running=0),
    row(2, visible=40, in_flight=12, desired=2, running=2, draining=3, booting=1, instances=6),
    row(3, visible=9, in_flight=4, desired=1, running=1, instances=1, latency_p95_s=33.5),
    row(4, published_running=None, published_desired=None, latency_p95_s=12.0),
]


def test_capacity_is_serving_booting_and_draining_stacked_to_every_instance() -> None:
    data = chart_data(ROWS, [], slo_s=60.0, seconds_per_minute=5.0)

    serving, booting, draining = data.capacity.values()
    assert list(data.capacity) == [
        "serving (worker running)",
        "booting (launched, no worker yet)",
        "draining (SIGTERM, finishing jobs)",
    ]
    assert (serving, booting, draining) == ([0, 0, 2, 1, 0], [0, 4, 1, 0, 0], [0, 0, 3, 0, 0])
    assert [s + b + d for s, b, d in zip(serving, booting, draining, strict=True)] == [
        r.instances for r in ROWS
    ]
    assert data.desired == [0, 4, 2, 1, 0]
    # What the published backlog needs at the target; nothing when no datapoint was published.
    assert data.needed == [0, 6, 3, 1, None]


def test_latency_and_slo_are_on_the_demo_clock() -> None:
    data = chart_data(ROWS, [], slo_s=60.0, seconds_per_minute=5.0)

    assert data.slo_min == 12.0
    assert data.latency_p95_min == [None, None, None, 6.7, 2.4]


def test_each_action_lands_in_its_policys_lane_labels_never_overlap_and_stay_inside() -> None:
    # Given a scale-in lane acting three minutes running, and a shutdown at the very last minute
    actions = [
        act(1, Source.BOOTSTRAP, 0, 4),
        act(10, Source.SCALE_IN_LANE, 6, 3),
        act(11, Source.SCALE_IN_LANE, 3, 2),
        act(12, Source.SCALE_IN_LANE, 2, 1),
        act(3, Source.TARGET_TRACKING, 4, 6),
        act(20, Source.SHUTDOWN, 1, 0),
    ]
    x_range = (-0.5, 20.5)

    marks = place_marks(actions, x_range)

    assert [(m.minute, LANES[m.lane], m.text, m.scale_out) for m in marks] == [
        (1, Source.BOOTSTRAP, "0\u21924", True),
        (3, Source.TARGET_TRACKING, "4\u21926", True),
        (10, Source.SCALE_IN_LANE, "6\u21923", False),
        (11, Source.SCALE_IN_LANE, "3\u21922", False),
        (12, Source.SCALE_IN_LANE, "2\u21921", False),
        (20, Source.SHUTDOWN, "1\u21920", False),
    ]
    for mark in marks:
        assert x_range[0] <= mark.start < mark.end <= x_range[1]
        assert mark.end - mark.start == pytest.approx(len(mark.text) * minutes_per_char(21.0))
    # Labels right of their marker, except where that would run out of the panel.
    assert [m.align for m in marks] == ["left"] * 5 + ["right"]
    assert_no_overlap(marks)


def assert_no_overlap(marks: list[ActionMark]) -> None:
    """On one line of one lane, no label (with its marker) runs into another."""
    for a in marks:
        for b in marks:
            if a is not b and (a.lane, a.row) == (b.lane, b.row):
                a_from, a_to = min(a.start, a.minute), max(a.end, a.minute)
                b_from, b_to = min(b.start, b.minute), max(b.end, b.minute)
                assert a_to <= b_from or b_to <= a_from, (a, b)


def test_labels_close_together_take_more_lines_far_apart_share_one() -> None:
    # A long run (400 demo minutes): a label is about 10 minutes wide on the axis
    x_range = (-0.5, 400.5)
    close = place_marks([act(m, Source.FAST_LANE, 1, 2) for m in (100, 101, 102)], x_range)
    far = place_marks([act(m, Source.FAST_LANE, 1, 2) for m in (100, 150, 200)], x_range)

    assert [m.row for m in close] == [0, 1, 2]
    assert [m.row for m in far] == [0, 0, 0]
    assert_no_overlap(close)
    rows = [row(m) for m in range(401)]
    data = chart_data(rows, [act(m, Source.FAST_LANE, 1, 2) for m in (100, 101, 102)], 60.0, 5.0)
    assert data.lane_rows == [3 if lane is Source.FAST_LANE else 1 for lane in LANES]
    # Lines stack top to bottom without two sharing a height.
    heights = [data.lane_y(lane, r) for lane in range(len(LANES)) for r in range(data.lane_rows[lane])]
    assert heights == sorted(heights, reverse=True) and len(set(heights)) == len(heights)
    assert min(heights) > 0 and max(heights) < sum(data.lane_rows)


def test_drawn_chart_keeps_legends_outside_the_panels_and_labels_inside_their_lanes() -> None:
    actions = [
        act(1, Source.BOOTSTRAP, 0, 4),
        act(3, Source.TARGET_TRACKING, 4, 6),
        act(4, Source.SHUTDOWN, 1, 0),
    ]
    data: ChartData = chart_data(ROWS, actions, slo_s=60.0, seconds_per_minute=5.0)

    fig = draw(data, 5.0)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        figure_box = fig.bbox
        panels = [ax.get_window_extent(renderer) for ax in fig.axes]
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert len(legends) == 4
        for legend in legends:
            box = legend.get_window_extent(renderer)
            assert not any(box.overlaps(panel) for panel in panels), "a legend covers a panel"
            assert figure_box.contains(box.x0, box.y0) and figure_box.contains(box.x1, box.y1)
        lanes_axes = fig.axes[3]
        lane_box = lanes_axes.get_window_extent(renderer)
        labels = [text for text in lanes_axes.texts]
        assert [t.get_text() for t in labels] == [m.text for m in data.marks]
        for text in labels:
            box = text.get_window_extent(renderer)
            assert lane_box.x0 <= box.x0 and box.x1 <= lane_box.x1, text.get_text()
            assert lane_box.y0 <= box.y0 and box.y1 <= lane_box.y1, text.get_text()
        for tick in lanes_axes.get_yticklabels():
            box = tick.get_window_extent(renderer)
            assert box.x0 >= figure_box.x0, tick.get_text()
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
