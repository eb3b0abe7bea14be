"""What the terminal shows: one progress line per demo minute, actions as they happen, the summary."""

from __future__ import annotations

from typing import Any, TextIO

from qas.demo.report import MinuteRow


class Console:
    def __init__(self, out: TextIO, seconds_per_minute: float) -> None:
        self._out = out
        self._spm = seconds_per_minute

    def stamp(self, minute: float) -> str:
        return f"[min {minute:5.1f} | {minute * self._spm:6.1f} s]"

    def line(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def event(self, minute: float, text: str) -> None:
        self.line(f"{self.stamp(minute)}   {text}")

    def header(self, lines: list[str]) -> None:
        for text in lines:
            self.line(text)
        self.line(
            f"{'':22}  {'phase':8} {'visible':>7} {'in-flight':>9} {'desired/running':>15} "
            f"{'target':>7} {'processed':>9} {'DLQ':>4}"
        )

    def progress(self, row: MinuteRow, missing: bool) -> None:
        """One line per demo minute: what the publisher published, and what the demo counted."""
        visible = "-" if missing else str(row.visible)
        in_flight = "-" if missing else str(row.in_flight)
        self.line(
            f"{self.stamp(row.minute)}  {row.phase:8} {visible:>7} {in_flight:>9} "
            f"{f'{row.desired}/{row.running}':>15} {row.target:>7.3g} {row.processed:>9} {row.dlq:>4}"
        )

    def summary(self, summary: dict[str, Any]) -> None:
        def seconds(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.1f} s"

        self.line("")
        self.line("=== summary " + "=" * 60)
        self.line(
            f"platform {summary['platform']}, profile {summary['profile']}, "
            f"{summary['demo_minutes']} demo minutes in {summary['wall_seconds']:.0f} s "
            f"(1 demo minute = {summary['seconds_per_minute']:g} s)"
        )
        self.line(
            f"messages: sent {summary['sent']}, processed {summary['processed']}, DLQ {summary['dlq']}, "
            f"still queued {summary['still_queued']}, lost {summary['lost']}"
        )
        latency = summary["latency"]
        verdict = "within" if latency["p95_within_slo"] else "OVER"
        self.line(
            f"latency (real s): p50 {seconds(latency['p50_s'])}, p95 {seconds(latency['p95_s'])}, "
            f"max {seconds(latency['max_s'])} -- p95 {verdict} the SLO of {summary['slo_seconds']:g} s"
        )
        self.line(
            f"capacity: {summary['capacity_minutes']:.1f} instance-minutes (demo), "
            f"peak {summary['peak_capacity']}, "
            f"final desired {summary['final_desired']} / running {summary['final_running']}"
        )
        self.line("scaling actions:")
        for action in summary["scaling_actions"]:
            self.line(
                f"  min {action['minute']:>3} ({action['real_s']:6.1f} s)  {action['source']:<15} "
                f"{action['previous']} -> {action['capacity']}  {action['reason']}"
            )
        for change in summary["target_changes"]:
            self.line(f"target tuner at min {change['minute']}: {change['from']:g} -> {change['to']:g}")
        if summary["lambda_failures"]:
            self.line(f"failed Lambda invocations: {summary['lambda_failures']}")
        self.line(f"report: {summary['files']['summary']}, {summary['files']['timeline']}")
