"""Per-message measurements aggregated in memory, published in ONE PutMetricData call per flush.

One call per interval whatever the throughput (a few CloudWatch calls a minute per worker), with
the durations as a histogram so CloudWatch can still compute percentiles for the target tuner.

PutMetricData is not idempotent, so a failure is judged by botocore's error class, never retried
blindly (the client makes one attempt, worker/clients.py):
* taken for sure NOT: an error response (ClientError: 5xx, throttling, ...) or no connection at all
  (botocore.exceptions.ConnectionError: endpoint, connect timeout, proxy, TLS handshake). The
  interval is merged into the next flush; the final flush at shutdown, which has no next one,
  sends it again a few times.
* maybe taken: no answer after the request went out (HTTPClientError: read timeout, connection
  closed). Sending it again could count it twice: it is dropped and logged with its counts.
A merged interval stays one snapshot (6 datums at most, 150 distinct values per histogram), well
inside PutMetricData's limits, and carries no timestamp: CloudWatch files it under the minute the
flush is taken
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as NoConnectionError

from worker.histogram import Histogram

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

log = logging.getLogger(__name__)

# The final flush: attempts, and the pause before the next one (doubling). Refusals come back in
# milliseconds; 5 attempts over ~4 s ride out a burst of 5xx or throttling at shutdown.
FINAL_FLUSH_ATTEMPTS = 5
_FINAL_PAUSE_SECONDS = 0.25


@dataclass
class Snapshot:
    """What one flush publishes."""

    durations: Histogram = field(default_factory=Histogram)
    latencies: Histogram = field(default_factory=Histogram)
    processed: int = 0
    failed: int = 0
    # A gauge at flush time, not a sum over the interval: the jobs running now and the seconds they
    # have run. The tuner adds them to the completed durations (scaling.estimate: survivor bias).
    running_jobs: int = 0
    running_seconds: float = 0.0

    def is_empty(self) -> bool:
        return self.processed == 0 and self.failed == 0 and self.running_jobs == 0

    def metric_data(self, fleet_name: str) -> list[dict[str, Any]]:
        """The MetricData list: exactly one dimension, FleetName (docs/contracts.md)."""
        dimensions = [{"Name": "FleetName", "Value": fleet_name}]
        data: list[dict[str, Any]] = [
            {
                "MetricName": "MessagesProcessed",
                "Dimensions": dimensions,
                "Value": float(self.processed),
                "Unit": "Count",
            },
            {
                "MetricName": "MessagesFailed",
                "Dimensions": dimensions,
                "Value": float(self.failed),
                "Unit": "Count",
            },
        ]
        if self.running_jobs:
            data += [
                {
                    "MetricName": "RunningJobs",
                    "Dimensions": dimensions,
                    "Value": float(self.running_jobs),
                    "Unit": "Count",
                },
                {
                    "MetricName": "RunningJobSeconds",
                    "Dimensions": dimensions,
                    "Value": self.running_seconds,
                    "Unit": "Seconds",
                },
            ]
        for name, histogram in (
            ("MsgProcessingDuration", self.durations),
            ("MessageLatency", self.latencies),
        ):
            if len(histogram):
                values, counts = histogram.values_and_counts()
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Values": values,
                        "Counts": counts,
                        "Unit": "Seconds",
                    }
                )
        return data


def flush_delays(interval_s: float, rng: random.Random) -> Iterator[float]:
    """The flusher's waits: the first a random part of one interval, then whole intervals.

    Workers that start together (a scale-out) would otherwise flush in the same second, every
    interval: hundreds of PutMetricData calls in one second against a per-account, per-Region quota.
    CloudWatch's advice against its throttling is jitter
    (https://repost.aws/knowledge-center/cloudwatch-400-error-throttling); qas.sim.api_calls counts it.
    """
    yield rng.uniform(0.0, interval_s)
    while True:
        yield interval_s


class Recorder:
    """Thread-safe accumulator: handler threads record, the flusher takes snapshots."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = Snapshot()

    def processed(self, duration_s: float, latency_s: float | None) -> None:
        with self._lock:
            self._current.processed += 1
            self._current.durations.add(duration_s)
            if latency_s is not None:
                self._current.latencies.add(latency_s)

    def failed(self, duration_s: float | None = None) -> None:
        # A failed job's duration is not a processing time the target should plan for.
        with self._lock:
            self._current.failed += 1

    def take(self) -> Snapshot:
        with self._lock:
            snapshot, self._current = self._current, Snapshot()
        return snapshot

    def put_back(self, snapshot: Snapshot) -> None:
        """Merge an unpublished snapshot back so a failed flush loses nothing."""
        with self._lock:
            current = self._current
            current.processed += snapshot.processed
            current.failed += snapshot.failed
            current.durations.merge(snapshot.durations)
            current.latencies.merge(snapshot.latencies)


class Publisher:
    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        namespace: str,
        fleet_name: str,
        recorder: Recorder,
        *,
        final_pause_s: float = _FINAL_PAUSE_SECONDS,
    ) -> None:
        self._cloudwatch = cloudwatch
        self._namespace = namespace
        self._fleet_name = fleet_name
        self._recorder = recorder
        self._final_pause_s = final_pause_s
        # One flush at a time: the final flush waits for a periodic one still in flight, so that
        # an interval it gives back is still sent.
        self._lock = threading.Lock()

    def flush(self, running_jobs: int = 0, running_seconds: float = 0.0, *, final: bool = False) -> bool:
        """Publish what was recorded since the last flush, and the jobs running now; an idle interval
        makes no call. (A put-back snapshot drops its running gauge: the next flush has a fresh one.)"""
        with self._lock:
            snapshot = self._recorder.take()
            snapshot.running_jobs, snapshot.running_seconds = running_jobs, running_seconds
            if snapshot.is_empty():
                return True
            refusal: Exception | None = None
            for attempt in range(FINAL_FLUSH_ATTEMPTS if final else 1):
                if attempt:
                    time.sleep(self._final_pause_s * 2 ** (attempt - 1))
                try:
                    self._cloudwatch.put_metric_data(
                        Namespace=self._namespace,
                        MetricData=snapshot.metric_data(self._fleet_name),  # type: ignore[arg-type]
                    )
                except (ClientError, NoConnectionError) as error:
                    # CloudWatch answered with an error, or no connection was made: nothing was
                    # recorded, so sending it again cannot count it twice
                    # (docs/aws-behaviour.md#botocore-sent-or-not).
                    refusal = error
                    continue
                except Exception as error:
                    # No answer (read timeout, connection dropped): CloudWatch may have recorded it.
                    # Sending it again could count the interval twice; losing it is the lesser harm.
                    log.warning("metrics flush unconfirmed, interval dropped", extra=_counts(snapshot, error))
                    return False
                log.debug(
                    "metrics flushed", extra={"processed": snapshot.processed, "failed": snapshot.failed}
                )
                return True
            if final:
                log.warning("metrics not published at shutdown", extra=_counts(snapshot, refusal))
            else:
                log.warning("metrics flush failed, kept for the next flush", extra={"error": str(refusal)})
                self._recorder.put_back(snapshot)
            return False


def _counts(snapshot: Snapshot, error: BaseException | None) -> dict[str, Any]:
    return {"error": str(error), "processed": snapshot.processed, "failed": snapshot.failed}
