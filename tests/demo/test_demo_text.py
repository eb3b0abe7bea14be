"""What the demo prints (qas.demo.ui): one clock, the reason for every action, no repeated noise."""

from __future__ import annotations

import io
import re

from qas.demo.fleet import FleetEvents
from qas.demo.report import MinuteRow
from qas.demo.ui import Console, Pace, pace_of, summary_lines, why
from qas.model.control_plane import ControlPlaneConfig, ScalingAction, Source
from queue_autoscaler.scaling.policy_spec import POLICY

CONFIG = ControlPlaneConfig(target=25.0, max_capacity=6, scale_in_lane_steps=POLICY.scale_in_lane_steps)


def action(source: Source, previous: int, capacity: int, applied: bool = True) -> ScalingAction:
    return ScalingAction(60.0, source, previous, capacity, applied, "the model's reason")


SUMMARY = {
    "platform": "EC2",
    "profile": "burst-steady-silence",
    "seconds_per_minute": 5.0,
    "demo_minutes": 25,
    "wall_seconds": 121.4,
    "slo_seconds": 60.0,
    "sent": 350,
    "processed": 350,
    "dlq": 0,
    "still_queued": 0,
    "lost": 0,
    "latency": {"p50_s": 16.0, "p95_s": 33.3, "max_s": 36.2, "p95_within_slo": True},
    "capacity_minutes": 79.7,
    "peak_capacity": 6,
    "final_desired": 0,
    "final_running": 0,
    "scaling_actions": [
        {
            "minute": 3,
            "real_s": 15.0,
            "source": "target-tracking",
            "previous": 4,
            "capacity": 6,
            "reason": "r",
        }
    ],
    "target_changes": [{"minute": 5, "real_s": 25.0, "from": 25.0, "to": 22.0}],
    "lambda_failures": [],
    "files": {"summary": "reports/demo/summary.json", "timeline": "reports/demo/timeline.png"},
}


def test_every_time_is_in_demo_minutes_and_latency_is_converted() -> None:
    out = io.StringIO()
    console = Console(out, 5.0)
    console.event(11.8, "fleet: something")
    lines = [*out.getvalue().splitlines(), *summary_lines(SUMMARY)]

    assert lines[0] == "[min  11.8]   fleet: something"
    assert "latency (demo min): p50 3.2, p95 6.7, max 7.2 -- p95 within the SLO of 12.0 demo min" in lines
    assert "  min   3  target-tracking 4 -> 6  r" in lines
    # Real seconds appear only where the header and summary say how long a demo minute or the
    # whole run lasted on the wall clock.
    seconds = [line for line in lines if re.search(r"\d s\b", line)]
    assert seconds == [
        "platform EC2, profile burst-steady-silence: 25 demo minutes (1 demo minute = 5 s; wall clock 121 s)"
    ]
    assert console.transcript == ["[min  11.8]   fleet: something"]


def test_a_scale_in_says_what_the_backlog_needs_and_flags_going_below_it() -> None:
    # The scale-in lane's 6 -> 2 on 11 visible + 12 in flight at target 24.9: one instance's worth
    fine = why(action(Source.SCALE_IN_LANE, 6, 2), CONFIG, visible=11, in_flight=12, target=24.9)
    assert fine.startswith("11 visible + 12 in flight = 0.92 x target 24.9, needs 1; ")
    assert f"{POLICY.scale_in_lane_datapoints} datapoints of ScaleInPressure" in fine
    assert "below 0.9" in fine and "BELOW" not in fine
    # Going to 1 with 40 waiting at target 25 leaves less than the backlog needs: said so
    short = why(action(Source.SCALE_IN_LANE, 2, 1), CONFIG, visible=40, in_flight=4, target=25.0)
    assert "needs 2" in short and short.endswith("; 1 is BELOW that need")
    # A scale-out short of the need (the bootstrap's steps, max capacity) is no such warning
    assert "BELOW" not in why(action(Source.BOOTSTRAP, 0, 4), CONFIG, visible=150, in_flight=0, target=25.0)
    assert "BELOW" not in why(
        action(Source.TARGET_TRACKING, 4, 6), CONFIG, visible=158, in_flight=9, target=25.0
    )


def test_target_tracking_names_the_alarm_that_fired() -> None:
    out = why(action(Source.TARGET_TRACKING, 4, 6), CONFIG, visible=158, in_flight=9, target=25.0)
    back = why(action(Source.TARGET_TRACKING, 1, 0), CONFIG, visible=0, in_flight=0, target=22.1)

    assert out.endswith(f"; {CONFIG.high_datapoints} datapoints above the target")
    assert back.endswith(f"; {CONFIG.low_datapoints} datapoints below {CONFIG.scale_in_ratio:g} x the target")


def test_a_proposal_that_lost_says_who_set_the_capacity() -> None:
    out = io.StringIO()
    console = Console(out, 5.0)
    console.action(3, action(Source.TARGET_TRACKING, 4, 6), 6, Source.TARGET_TRACKING)
    console.action(3, action(Source.FAST_LANE, 4, 6, applied=False), 6, Source.TARGET_TRACKING)
    console.action(9, action(Source.FAST_LANE, 6, 6, applied=False), 6, None)

    assert out.getvalue().splitlines() == [
        "[min   3.0]   target-tracking: desired 4 -> 6 (the model's reason)",
        "[min   3.0]   fast-lane: asked for 6, not applied: target-tracking set 6 (the model's reason)",
        "[min   9.0]   fast-lane: asked for 6, already desired (the model's reason)",
    ]


def test_kept_instances_are_reported_when_their_number_changes_not_every_minute() -> None:
    out = io.StringIO()
    console = Console(out, 5.0)
    for kept in (4, 4, 1, 1, 1, 0, 0, 1):
        console.kept(12.0, kept, "instance")

    said = [line.split("fleet: ")[1].split(" ")[0] for line in out.getvalue().splitlines()]
    assert said == ["4", "1", "1"]


def test_progress_row_shows_need_and_serving_booting_draining() -> None:
    out = io.StringIO()
    console = Console(out, 5.0)
    row = MinuteRow(
        minute=11,
        real_s=55.0,
        phase="steady",
        visible=11,
        in_flight=12,
        desired=2,
        running=6,
        instances=6,
        target=24.9,
        backlog_per_instance=3.83,
        processed=228,
        dlq=0,
        latency_p95_s=20.0,
        published_running=6,
        published_desired=6,
    )
    console.progress(row)
    console.progress(MinuteRow(**{**row.__dict__, "minute": 12, "published_running": None}))
    console.fleet(12.5, FleetEvents(terminating=["i-1"]), "instance", 1.0)

    first, missing, event = out.getvalue().splitlines()
    assert first.split() == ["[min", "11.0]", "steady", "11", "12", "1", "2", "6/0/0", "24.9", "228", "0"]
    assert missing.split()[3:6] == ["-", "-", "-"]
    assert event == "[min  12.5]   fleet: instance i-1 terminating, SIGTERM to its worker"


def test_a_scale_in_below_the_arrival_rate_says_the_backlog_will_regrow() -> None:
    # The backlog needs 1 instance, but 10 arrive a minute and a busy instance does 4.8
    pace = Pace(arrived=10.0, per_instance=4.8)
    to_one = why(action(Source.SCALE_IN_LANE, 2, 1), CONFIG, visible=0, in_flight=12, target=25.0, pace=pace)
    to_three = why(
        action(Source.SCALE_IN_LANE, 6, 3), CONFIG, visible=39, in_flight=14, target=25.0, pace=pace
    )

    assert "needs 1" in to_one and "BELOW" not in to_one
    assert to_one.endswith(
        "; but 10 arrive a minute and a busy instance processed 4.8: 1 fall behind, the backlog will grow "
        "until a scale-out policy acts"
    )
    assert "fall behind" not in to_three  # 3 x 4.8 keeps up with 10
    # Unknown pace (instances were idle) or a scale-out: no such warning
    assert "fall behind" not in why(
        action(Source.SCALE_IN_LANE, 2, 1), CONFIG, visible=0, in_flight=12, target=25.0
    )
    assert "fall behind" not in why(
        action(Source.FAST_LANE, 1, 2), CONFIG, visible=26, in_flight=2, target=22.6, pace=pace
    )


def _flow(minute: int, visible: int, running: int, processed: int, sent: int) -> MinuteRow:
    return MinuteRow(
        minute=minute,
        real_s=0.0,
        phase="steady",
        visible=visible,
        in_flight=0,
        desired=running,
        running=running,
        instances=running,
        target=25.0,
        backlog_per_instance=None,
        processed=processed,
        dlq=0,
        latency_p95_s=None,
        sent=sent,
    )


def test_the_pace_is_what_busy_instances_processed_and_what_arrived_per_minute() -> None:
    # Minutes 11-13: work waits throughout; 6 instances process 69 in 3 minutes while 30 arrive
    rows = [
        _flow(10, 62, 6, 172, 250),
        _flow(11, 55, 6, 183, 260),
        _flow(12, 39, 6, 212, 270),
        _flow(13, 17, 6, 241, 280),
    ]

    pace = pace_of(rows)

    assert pace == Pace(arrived=(280 - 250) / 3, per_instance=(241 - 172) / 18)
    # Not enough minutes yet, or a minute with nothing waiting (idle instances): no pace
    assert pace_of(rows[1:]) is None
    idle = [*rows[:2], _flow(12, 0, 6, 212, 270), rows[3]]
    assert pace_of(idle) is None
