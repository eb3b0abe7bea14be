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
    running: int  # serving: the worker runs (booting and draining instances are counted apart)
    instances: int  # booting + running + draining: what is paid for
    target: float
    backlog_per_instance: float | None
    processed: int
    dlq: int
    latency_p95_s: float | None  # of the messages completed in this minute
    scale_out_pressure: float | None = None  # as the metric publisher published it
    scale_in_pressure: float | None = None  # likewise
    booting: int = 0  # launched, worker not started yet
    draining: int = 0  # terminating: SIGTERM sent, finishing its jobs
    # What the publisher published for the fleet (None: no datapoint this minute); with the queue
    # counts and the metric above, the datapoint the alarms evaluated (docs/demo.md, replayed by tests).
    published_running: int | None = None
    published_desired: int | None = None
    alarms: tuple[str, ...] = ()  # the alarms in ALARM after this minute's evaluation
    sent: int = 0  # messages the producer has sent so far


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


def latency_summary(latencies: list[float], slo_s: float) -> dict[str, Any]:
    """summary.json's latency figures, in real seconds as measured (the console shows demo minutes)."""
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "p50_s": None if p50 is None else round(p50, 2),
        "p95_s": None if p95 is None else round(p95, 2),
        "max_s": round(latencies[-1], 2) if latencies else None,
        "p95_within_slo": p95 is not None and p95 <= slo_s,
    }


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def rows_as_dicts(rows: list[MinuteRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
