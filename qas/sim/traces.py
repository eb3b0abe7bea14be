"""Message traces: CSV ``arrival_s,processing_s``, one row per message, and workload generators.

An optional third column ``group`` (header ``arrival_s,processing_s,group``) is the message group
of a FIFO queue; the simulator then dispatches as SQS FIFO does (qas/sim/fifo.py). Or ``queue``
(header ``arrival_s,processing_s,queue``): the queue of one fleet the message is sent to, 0 the main
queue, 1-3 the ``ExtraQueueArns`` in priority order (qas/sim/multi_queue.py). No other column is
read: a row with more values than its header is an error.

Every value is checked on reading, so that a bad row is named (file and line) before anything runs;
the bounds below keep a run finite (docs/simulator.md, "Trace").

Generators are seeded so that a benchmark run is reproducible. Arrivals are Poisson processes
(thinned for time-varying rates); processing times are lognormal with a given mean.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HEADER = ("arrival_s", "processing_s")
FIFO_HEADER = (*HEADER, "group")
QUEUE_HEADER = (*HEADER, "queue")
# The main queue and the template's up to 3 ExtraQueueArns (docs/fifo-and-multi-queue.md section 2).
MAX_QUEUES = 4

DAY_S = 86_400.0
# The longest span a trace may cover. CloudWatch keeps hourly datapoints for 455 days
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html):
# the longest history `qas plan --stack` can read. The simulator's time grows with the span.
MAX_SPAN_DAYS = 455
MAX_SPAN_S = MAX_SPAN_DAYS * DAY_S
# The longest job. SQS lets a consumer keep a message invisible for at most 12 hours
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html,
# docs/aws-behaviour.md#sqs-visibility-12h),
# so the worker fails longer jobs; replayed batch logs hold jobs at that limit and a little past it,
# hence a looser bound here that still keeps a run finite.
MAX_PROCESSING_S = 7 * DAY_S
MAX_MESSAGES = 2_000_000  # the simulator's time and memory grow with the messages


def arrival_problem(value: float) -> str | None:
    """What is wrong with this arrival time, or None."""
    if not (math.isfinite(value) and value >= 0):
        return f"arrival_s must be a finite number >= 0, got {value!r}"
    if value > MAX_SPAN_S:
        return f"arrival_s {value:g} s is past the longest trace, {MAX_SPAN_DAYS} days ({MAX_SPAN_S:,.0f} s)"
    return None


def processing_problem(value: float) -> str | None:
    """What is wrong with this processing time, or None."""
    if not (math.isfinite(value) and value >= 0):
        return f"processing_s must be a finite number >= 0, got {value!r}"
    if value > MAX_PROCESSING_S:
        return (
            f"processing_s {value:g} s is longer than a week ({MAX_PROCESSING_S:,.0f} s); SQS lets a worker "
            "hold a message 12 hours"
        )
    return None


def _too_many() -> str:
    return f"more than {MAX_MESSAGES:,} messages, the simulator's limit: split the trace"


@dataclass(frozen=True)
class Trace:
    """Arrival times (sorted, seconds from the start) and processing seconds on one worker slot."""

    arrival_s: tuple[float, ...]
    processing_s: tuple[float, ...]
    group: tuple[str, ...] | None = None  # FIFO message group of each message
    queue: tuple[int, ...] | None = None  # the queue of each message (0: main, highest priority)

    def __post_init__(self) -> None:
        if len(self.arrival_s) != len(self.processing_s):
            raise ValueError("arrival_s and processing_s differ in length")
        if self.group is not None and len(self.group) != len(self.arrival_s):
            raise ValueError("group and arrival_s differ in length")
        if self.queue is not None:
            if self.group is not None:
                raise ValueError("message groups on several queues are not modelled: give group or queue")
            if len(self.queue) != len(self.arrival_s):
                raise ValueError("queue and arrival_s differ in length")
            if not all(0 <= q < MAX_QUEUES for q in self.queue):
                index = next(i for i, q in enumerate(self.queue) if not 0 <= q < MAX_QUEUES)
                raise ValueError(f"message {index + 1}: {queue_problem(self.queue[index])}")
        if len(self.arrival_s) > MAX_MESSAGES:
            raise ValueError(_too_many())
        # One pass each (a chained comparison is False for NaN); the index only when one fails.
        for values, problem, low, high in (
            (self.arrival_s, arrival_problem, 0.0, MAX_SPAN_S),
            (self.processing_s, processing_problem, 0.0, MAX_PROCESSING_S),
        ):
            if not all(low <= v <= high for v in values):
                index, text = next((i, t) for i, v in enumerate(values) if (t := problem(v)) is not None)
                raise ValueError(f"message {index + 1}: {text}")
        if any(b < a for a, b in zip(self.arrival_s, self.arrival_s[1:], strict=False)):
            raise ValueError("arrivals must be sorted")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        return self.arrival_s[-1] if self.arrival_s else 0.0

    @property
    def queues(self) -> int:
        """How many queues the messages are on (the highest index + 1; 1 without a queue column)."""
        return max(self.queue, default=0) + 1 if self.queue is not None else 1

    @classmethod
    def from_rows(cls, rows: list[tuple[float, float]]) -> Trace:
        rows = sorted(rows)
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows))

    @classmethod
    def from_group_rows(cls, rows: list[tuple[float, float, str]]) -> Trace:
        # Stable on arrival only: equal arrivals keep their order, which is the order in their group.
        rows = sorted(rows, key=lambda r: r[0])
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows))

    @classmethod
    def from_queue_rows(cls, rows: list[tuple[float, float, int]]) -> Trace:
        rows = sorted(rows, key=lambda r: r[0])  # stable: equal arrivals keep their order
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows), queue=tuple(r[2] for r in rows))


def queue_problem(value: object) -> str:
    return (
        f"queue must be a whole number 0..{MAX_QUEUES - 1} (the main queue, then up to"
        f" {MAX_QUEUES - 1} ExtraQueueArns), got {value!r}"
    )


def _number(column: str, text: str, problem: Callable[[float], str | None]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} must be a number, got {text!r}") from None
    if (found := problem(value)) is not None:
        raise ValueError(found)
    return value


def _queue(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(queue_problem(text)) from None
    if not 0 <= value < MAX_QUEUES:
        raise ValueError(queue_problem(value))
    return value


def _row(row: list[str], columns: tuple[str, ...]) -> tuple[float, float, str]:
    if len(row) != len(columns):
        raise ValueError(f"expected {len(columns)} values ({','.join(columns)}), got {len(row)}")
    arrival = _number("arrival_s", row[0], arrival_problem)
    processing = _number("processing_s", row[1], processing_problem)
    extra = row[2].strip() if len(columns) > len(HEADER) else ""
    if columns == FIFO_HEADER and not extra:
        raise ValueError("the group is empty")
    if columns == QUEUE_HEADER:
        _queue(extra)
    return arrival, processing, extra


def _first_undecodable(path: Path) -> str:
    """Where the file stops being UTF-8 (the text reader decodes in chunks and cannot say)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"line {line}: byte 0x{data[exc.start]:02x}, {exc.reason}"
    return "it changed while read"


def read_csv(path: Path) -> Trace:
    """Read a trace; rows need not be sorted. Raises ValueError naming the file and line of a bad
    header or row, before anything is simulated."""
    rows: list[tuple[float, float, str]] = []
    # utf-8-sig: a spreadsheet's byte order mark is not part of the header.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            columns = None if header is None else tuple(h.strip() for h in header)
            if columns is None or columns not in (HEADER, FIFO_HEADER, QUEUE_HEADER):
                raise ValueError(
                    f"{path}: the header must be {','.join(HEADER)}, {','.join(FIFO_HEADER)} or"
                    f" {','.join(QUEUE_HEADER)}"
                )
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(rows) == MAX_MESSAGES:
                    raise ValueError(f"{path}:{reader.line_num}: {_too_many()}")
                try:
                    rows.append(_row(row, columns))
                except ValueError as exc:
                    raise ValueError(f"{path}:{reader.line_num}: {exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text ({_first_undecodable(path)})") from None
        except csv.Error as exc:
            raise ValueError(f"{path}:{reader.line_num}: {exc}") from None
    if columns == FIFO_HEADER:
        return Trace.from_group_rows(rows)
    if columns == QUEUE_HEADER:
        return Trace.from_queue_rows([(a, p, int(q)) for a, p, q in rows])
    return Trace.from_rows([(a, p) for a, p, _ in rows])


def write_csv(trace: Trace, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        if trace.queue is not None:
            writer.writerow(QUEUE_HEADER)
            for arrival, processing, queue in zip(
                trace.arrival_s, trace.processing_s, trace.queue, strict=True
            ):
                writer.writerow((f"{arrival:.3f}", f"{processing:.3f}", queue))
            return
        if trace.group is None:
            writer.writerow(HEADER)
            for arrival, processing in zip(trace.arrival_s, trace.processing_s, strict=True):
                writer.writerow((f"{arrival:.3f}", f"{processing:.3f}"))
            return
        writer.writerow(FIFO_HEADER)
        for arrival, processing, group in zip(trace.arrival_s, trace.processing_s, trace.group, strict=True):
            writer.writerow((f"{arrival:.3f}", f"{processing:.3f}", group))


def with_groups(trace: Trace, groups: int, *, seed: int, hot_share: float = 0.0) -> Trace:
    """The trace on a FIFO queue: each message in one of ``groups`` groups, uniformly, except that a
    ``hot_share`` of them all go to group ``hot``."""
    if groups < 1 or not 0 <= hot_share <= 1:
        raise ValueError("groups must be >= 1 and hot_share within [0, 1]")
    rng = random.Random(seed)
    names = ["hot" if rng.random() < hot_share else f"g{rng.randrange(groups)}" for _ in range(len(trace))]
    return Trace(trace.arrival_s, trace.processing_s, tuple(names))


def with_growing_groups(trace: Trace, first: int, last: int, *, seed: int) -> Trace:
    """The trace on a FIFO queue whose active groups grow linearly from ``first`` to ``last`` over it:
    each message goes to one of the groups active at its arrival (new groups keep appearing)."""
    if not 1 <= first <= last:
        raise ValueError("need 1 <= first <= last")
    rng = random.Random(seed)
    span = trace.duration_s or 1.0
    names = [f"g{rng.randrange(first + int((last - first) * t / span))}" for t in trace.arrival_s]
    return Trace(trace.arrival_s, trace.processing_s, tuple(names))


Sampler = Callable[[random.Random, float], float]  # (rng, arrival time) -> processing seconds


def lognormal(mean_s: float, sigma: float) -> Sampler:
    """Lognormal processing times with this mean (not the mean of the log), as the producer's."""
    mu = math.log(mean_s) - sigma * sigma / 2

    def sample(rng: random.Random, _t: float) -> float:
        return rng.lognormvariate(mu, sigma)

    return sample


def switch_at(at_s: float, before: Sampler, after: Sampler) -> Sampler:
    def sample(rng: random.Random, t: float) -> float:
        return (before if t < at_s else after)(rng, t)

    return sample


def poisson(
    rate: Callable[[float], float], max_rate: float, duration_s: float, processing: Sampler, seed: int
) -> Trace:
    """A Poisson process with a time-varying rate (messages/s), by thinning a ``max_rate`` process."""
    rng = random.Random(seed)
    arrivals: list[float] = []
    processing_s: list[float] = []
    t = 0.0
    while max_rate > 0:
        t += rng.expovariate(max_rate)
        if t >= duration_s:
            break
        if rng.random() * max_rate <= rate(t):
            arrivals.append(t)
            processing_s.append(processing(rng, t))
    return Trace(tuple(arrivals), tuple(processing_s))


def steady(rate: float, duration_s: float, processing: Sampler, seed: int = 1) -> Trace:
    return poisson(lambda _t: rate, rate, duration_s, processing, seed)


def ramp(start_rate: float, end_rate: float, duration_s: float, processing: Sampler, seed: int = 1) -> Trace:
    def rate(t: float) -> float:
        return start_rate + (end_rate - start_rate) * t / duration_s

    return poisson(rate, max(start_rate, end_rate), duration_s, processing, seed)


def diurnal(
    mean_rate: float,
    amplitude: float,
    duration_s: float,
    processing: Sampler,
    *,
    seed: int = 1,
    day_s: float = 86_400,
) -> Trace:
    """Rate ``mean_rate * (1 + amplitude * sin)``, lowest at the start of the day."""
    if not 0 <= amplitude <= 1:
        raise ValueError("amplitude must be within [0, 1]")

    def rate(t: float) -> float:
        return mean_rate * (1 - amplitude * math.cos(2 * math.pi * t / day_s))

    return poisson(rate, mean_rate * (1 + amplitude), duration_s, processing, seed)


def burst(
    count: int, at_s: float, spread_s: float, duration_s: float, processing: Sampler, *, seed: int = 1
) -> Trace:
    """``count`` messages uniformly within ``[at_s, at_s + spread_s)`` into an idle queue."""
    rng = random.Random(seed)
    arrivals = sorted(at_s + rng.random() * spread_s for _ in range(count))
    trace = Trace(tuple(arrivals), tuple(processing(rng, t) for t in arrivals))
    if duration_s < trace.duration_s:
        raise ValueError("duration_s ends before the burst does")
    return trace
