"""What the terminal shows: one progress line per demo minute, actions as they happen and why, the summary.

One clock: every time printed is in demo minutes (the header says how long one lasts). Work runs in
real time on the workers, so a latency measured in real seconds is shown divided by the seconds per
demo minute, as the chart does; summary.json keeps the measured seconds (``_s`` keys).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from qas.demo.config import DemoConfig
from qas.demo.fleet import FleetEvents
from qas.demo.report import MinuteRow
from qas.demo.stack import DeployedStack
from qas.model.control_plane import ControlPlaneConfig, ScalingAction, Source


class Console:
    def __init__(self, out: TextIO, seconds_per_minute: float) -> None:
        self._out = out
        self._spm = seconds_per_minute
        self._kept = 0  # instances kept above desired, as last printed
        self.transcript: list[str] = []  # every line printed, for summary.json and docs/demo.md

    @staticmethod
    def stamp(minute: float) -> str:
        return f"[min {minute:5.1f}]"

    def line(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()
        self.transcript.append(text)

    def event(self, minute: float, text: str) -> None:
        self.line(f"{self.stamp(minute)}   {text}")

    def header(self, lines: list[str]) -> None:
        for text in lines:
            self.line(text)
        self.line(
            f"{'':11}  {'phase':8} {'visible':>7} {'in-flight':>9} {'need':>4} "
            f"{'desired':>7} {'serve/boot/drain':>16} {'target':>7} {'processed':>9} {'DLQ':>4}"
        )

    def progress(self, row: MinuteRow) -> None:
        """One line per demo minute: the queue as the publisher published it ("-": no datapoint),
        what that backlog needs at the target, then the fleet after this minute's actions."""
        missing = row.published_running is None
        visible = "-" if missing else str(row.visible)
        in_flight = "-" if missing else str(row.in_flight)
        need = "-" if missing else str(math.ceil((row.visible + row.in_flight) / row.target))
        fleet = f"{row.running}/{row.booting}/{row.draining}"
        self.line(
            f"{self.stamp(row.minute)}  {row.phase:8} {visible:>7} {in_flight:>9} {need:>4} "
            f"{row.desired:>7} {fleet:>16} {row.target:>7.3g} {row.processed:>9} {row.dlq:>4}"
        )

    def action(self, minute: int, action: ScalingAction, result_desired: int, winner: Source | None) -> None:
        if action.applied:
            self.event(
                minute, f"{action.source}: desired {action.previous} -> {action.capacity} ({action.reason})"
            )
        elif winner is not None:
            self.event(
                minute,
                f"{action.source}: asked for {action.capacity}, not applied: {winner} set "
                f"{result_desired} ({action.reason})",
            )
        else:
            self.event(
                minute, f"{action.source}: asked for {action.capacity}, already desired ({action.reason})"
            )

    def why(self, minute: int, text: str) -> None:
        self.event(minute, f"  why: {text}")

    def fleet(self, at: float, events: FleetEvents, noun: str, boot_minutes: float) -> None:
        for member in events.launched:
            self.event(at, f"fleet: {noun} {member} launched, booting {boot_minutes:g} demo min")
        for member in events.started:
            state = "InService" if noun == "instance" else "RUNNING"
            self.event(at, f"fleet: worker started on {member} (now {state})")
        for member in events.terminating:
            self.event(at, f"fleet: {noun} {member} terminating, SIGTERM to its worker")
        for member, code in events.exited:
            self.event(at, f"fleet: worker on {member} exited (code {code})")

    def kept(self, at: float, kept: int, noun: str) -> None:
        """Busy instances kept above desired: said when their number changes, not every minute."""
        if kept != self._kept and kept > 0:
            self.event(
                at,
                f"fleet: {kept} {noun}(s) kept above desired: scale-in protected while busy, "
                "each goes when its worker is idle",
            )
        self._kept = kept

    def summary(self, summary: dict[str, Any]) -> None:
        for text in summary_lines(summary):
            self.line(text)


@dataclass(frozen=True)
class Pace:
    """The last minutes' flow, per demo minute: messages that arrived, what one busy instance processed."""

    arrived: float
    per_instance: float


# Demo minutes over which a scale-in's "why" compares arrivals with what the instances processed.
PACE_MINUTES = 3


def pace_of(rows: Sequence[MinuteRow], minutes: int = PACE_MINUTES) -> Pace | None:
    """The flow over the last ``minutes`` rows; None unless work waited in each of them: idle
    instances' pace says nothing of what they can do."""
    window = rows[-minutes:]
    serving = sum(row.running for row in window)
    if len(rows) <= minutes or serving == 0 or any(row.visible == 0 for row in window):
        return None
    before, last = rows[-minutes - 1], window[-1]
    return Pace((last.sent - before.sent) / minutes, (last.processed - before.processed) / serving)


def why(
    action: ScalingAction,
    config: ControlPlaneConfig,
    *,
    visible: int,
    in_flight: int,
    target: float,
    pace: Pace | None = None,
) -> str:
    """Why a policy acted, in the terms of its alarm and of the backlog it sized the fleet for.

    The policies size the fleet on the backlog (a latency budget), not on the arrival rate: a scale-in
    that the backlog allows can leave fewer instances than the load needs, and the backlog then
    grows until a scale-out policy acts. Said when the last minute's pace shows it (docs/demo.md).
    """
    backlog = visible + in_flight
    needed = math.ceil(backlog / target)
    rule = {
        Source.BOOTSTRAP: "work waits with nothing desired: the bootstrap steps size the fleet on "
        "visible / InitialTarget, in powers of two",
        Source.FAST_LANE: f"1 datapoint of ScaleOutPressure (metric / target) above "
        f"{min((p for p, _ in config.fast_lane_steps), default=math.inf):g}: adds a share of the "
        "running capacity",
        Source.SCALE_IN_LANE: f"{config.scale_in_lane_datapoints} datapoints of ScaleInPressure "
        f"(backlog per desired instance / target) below "
        f"{max((p for p, _ in config.scale_in_lane_steps), default=0):g}: removes a share of desired",
        Source.SHUTDOWN: f"nothing visible or in flight for {config.shutdown_datapoints} periods",
    }.get(action.source)
    if rule is None:  # target tracking: which of its two alarms
        rule = (
            f"{config.high_datapoints} datapoints above the target"
            if action.is_scale_out
            else f"{config.low_datapoints} datapoints below {config.scale_in_ratio:g} x the target"
        )
    text = (
        f"{visible} visible + {in_flight} in flight = {backlog / target:.2f} x target {target:g}, "
        f"needs {needed}; {rule}"
    )
    if not action.is_scale_out and action.capacity < min(needed, config.max_capacity):
        text += f"; {action.capacity} is BELOW that need"
    if not action.is_scale_out and pace is not None and action.capacity * pace.per_instance < pace.arrived:
        text += (
            f"; but {pace.arrived:.3g} arrive a minute and a busy instance processed "
            f"{pace.per_instance:.1f}: {action.capacity} fall behind, the backlog will grow until a "
            "scale-out policy acts"
        )
    return text


def header_lines(cfg: DemoConfig, stack: DeployedStack, queue_url: str, target: float) -> list[str]:
    """What the run is: the fleet, the clock, the load, the policy's starting point, the columns."""
    out = stack.outputs
    tuner = f" (every {cfg.tuner_every_minutes} demo min: --tuner-every)" if cfg.tuner_every_minutes else ""
    slo_min = cfg.slo_seconds / cfg.seconds_per_minute
    return [
        f"fleet {out['FleetName']} ({cfg.platform}), queue {queue_url}",
        f"clock: every time below is in demo minutes; 1 demo minute = {cfg.seconds_per_minute:g} s "
        "real. Schedules, metric periods, alarms,",
        f"  warm-up/cooldowns and boot ({cfg.boot_minutes:g} demo min) run on it; work runs in "
        f"real time and is shown on it too (SLO {cfg.slo_seconds:g} s = {slo_min:g} demo min)",
        f"load profile {cfg.profile.name}: {cfg.profile.description}",
        f"initial target {target:g} messages per instance (the tuner's formula on the "
        f"profile's declared durations); max capacity {stack.control.max_capacity}; "
        f"shutdown after {stack.control.shutdown_after_minutes} demo min empty",
        f"functions (run warm, on their EventBridge schedules): {out['MetricPublisherFunction']}, "
        f"{out['TargetTunerFunction']}{tuner}, {out['ProducerFunction']}",
        "columns: the queue as the metric publisher published it; need = ceil((visible + "
        "in-flight) / target); the fleet after the minute's actions",
    ]


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The printed summary, from summary.json's figures (times in demo minutes)."""
    spm = float(summary["seconds_per_minute"])

    def minutes(value_s: float | None) -> str:
        return "n/a" if value_s is None else f"{value_s / spm:.1f}"

    latency = summary["latency"]
    verdict = "within" if latency["p95_within_slo"] else "OVER"
    lines = [
        "",
        "=== summary " + "=" * 60,
        f"platform {summary['platform']}, profile {summary['profile']}: {summary['demo_minutes']} demo "
        f"minutes (1 demo minute = {spm:g} s; wall clock {summary['wall_seconds']:.0f} s)",
        f"messages: sent {summary['sent']}, processed {summary['processed']}, DLQ {summary['dlq']}, "
        f"still queued {summary['still_queued']}, lost {summary['lost']}",
        f"latency (demo min): p50 {minutes(latency['p50_s'])}, p95 {minutes(latency['p95_s'])}, "
        f"max {minutes(latency['max_s'])} -- p95 {verdict} the SLO of "
        f"{minutes(summary['slo_seconds'])} demo min",
        f"capacity: {summary['capacity_minutes']:.1f} instance-minutes, peak {summary['peak_capacity']}, "
        f"final desired {summary['final_desired']} / running {summary['final_running']}",
        "scaling actions:",
    ]
    lines += [
        f"  min {a['minute']:>3}  {a['source']:<15} {a['previous']} -> {a['capacity']}  {a['reason']}"
        for a in summary["scaling_actions"]
    ]
    lines += [
        f"target tuner at min {c['minute']}: {c['from']:g} -> {c['to']:g}" for c in summary["target_changes"]
    ]
    if summary["lambda_failures"]:
        lines.append(f"failed Lambda invocations: {summary['lambda_failures']}")
    lines.append(f"report: {summary['files']['summary']}, {summary['files']['timeline']}")
    return lines


def brief_answer(result: Any) -> str:
    """A function's answer in one line (the tuner's decision: action, target, reason)."""
    if isinstance(result, dict) and {"action", "reason"} <= result.keys():
        return f"{result['action']} target {result.get('target')} ({result['reason']})"
    return str(result)
