"""The demo's record: per-minute timeline, scaling actions, latency, and the files under reports/demo/."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MinuteRow:
    minute: int
    real_s: float
    phase: str
    visible: int
    in_flight: int
    desired: int
    running: int
    instances: int  # booting + running + draining: what is paid for
    target: float
    backlog_per_instance: float | None
    processed: int
    dlq: int
    latency_p95_s: float | None  # of the messages completed in this minute
    scale_out_pressure: float | None = None  # as the metric publisher published it
    scale_in_pressure: float | None = None  # likewise


@dataclass(frozen=True)
class ActionRecord:
    minute: int
    real_s: float
    source: str
    previous: int
    capacity: int
    reason: str


@dataclass
class Completions:
    """Completion records from the workers (qas.demo.work); at-least-once, so keyed by job id."""

    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    _offsets: dict[Path, int] = field(default_factory=dict)

    def read(self, files: list[Path]) -> list[dict[str, Any]]:
        """Read what was appended since the last call; returns the newly completed jobs."""
        new: list[dict[str, Any]] = []
        for path in files:
            if not path.exists():
                continue
            with path.open("rb") as stream:
                stream.seek(self._offsets.get(path, 0))
                data = stream.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self._offsets[path] = self._offsets.get(path, 0) + len(complete)
            for line in complete.splitlines():
                record = json.loads(line)
                job_id = str(record.get("job_id"))
                if job_id not in self.done:
                    self.done[job_id] = record
                    new.append(record)
        return new

    def latencies(self, records: list[dict[str, Any]] | None = None) -> list[float]:
        rows = self.done.values() if records is None else records
        return sorted(
            r["done_at"] - r["produced_at"]
            for r in rows
            if isinstance(r.get("produced_at"), int | float) and isinstance(r.get("done_at"), int | float)
        )


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_timeline(
    path: Path, rows: list[MinuteRow], actions: list[ActionRecord], slo_s: float, seconds_per_minute: float
) -> None:
    """Queue depth, capacity, target and latency per demo minute (matplotlib, Agg backend)."""
    import matplotlib  # noqa: PLC0415 - imported only when a chart is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    series = timeline_series(rows)
    minutes = series["minute"]
    fig, (ax_queue, ax_cap, ax_lat) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    ax_queue.plot(minutes, series["visible"], label="visible", color="tab:blue")
    ax_queue.plot(minutes, series["in_flight"], label="in flight", color="tab:cyan")
    ax_queue.set_ylabel("messages")
    ax_queue.set_title(f"queue-autoscaler demo (1 demo minute = {seconds_per_minute:g} s real)")
    ax_target = ax_queue.twinx()
    ax_target.plot(
        minutes, series["backlog_per_instance"], label="backlog/instance", color="tab:orange", ls=":"
    )
    ax_target.plot(minutes, series["target"], label="target", color="tab:red", ls="--")
    ax_target.set_ylabel("backlog per instance")
    lines = ax_queue.get_legend_handles_labels()
    more = ax_target.get_legend_handles_labels()
    ax_queue.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right", fontsize="small")

    ax_cap.step(minutes, series["desired"], where="post", label="desired", color="tab:purple")
    ax_cap.step(minutes, series["running"], where="post", label="running", color="tab:green")
    ax_cap.step(
        minutes,
        series["instances"],
        where="post",
        label="instances (incl. booting)",
        color="tab:gray",
        ls=":",
    )
    for action in actions:
        ax_cap.axvline(action.minute, color="tab:olive", alpha=0.3)
        ax_cap.annotate(action.source, (action.minute, action.capacity), fontsize="x-small", rotation=90)
    ax_cap.set_ylabel("capacity")
    ax_cap.legend(loc="upper right", fontsize="small")

    ax_lat.plot(
        minutes,
        series["latency_p95_s"],
        marker=".",
        label="p95 latency of completions",
        color="tab:brown",
    )
    ax_lat.axhline(slo_s, color="tab:red", ls="--", label=f"SLO {slo_s:g} s")
    ax_lat.set_ylabel("latency (real s)")
    ax_lat.set_xlabel("demo minute")
    ax_lat.legend(loc="upper right", fontsize="small")

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def timeline_series(rows: list[MinuteRow]) -> dict[str, list[Any]]:
    """The chart's data: one list per column of the per-minute rows, in minute order."""
    return {name: [getattr(row, name) for row in rows] for name in MinuteRow.__dataclass_fields__}


def rows_as_dicts(rows: list[MinuteRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
