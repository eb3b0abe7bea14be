"""How CloudWatch evaluates a metric alarm when datapoints are missing.

Pure: the control-plane model (`qas.model.control_plane`) keeps one :class:`Alarm` per alarm of the
template and of target tracking. What CloudWatch does, from
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html:

* it retrieves more datapoints than ``EvaluationPeriods`` (the *evaluation range*) and evaluates the
  newest ``EvaluationPeriods`` datapoints that exist; ``TreatMissingData`` is not used then;
* when fewer exist, it fills in missing ones, as few as it can, with ``TreatMissingData``: with
  ``notBreaching`` they count as good; with ``missing`` an alarm with no datapoint in its range goes
  to INSUFFICIENT_DATA, and one whose existing datapoints all breach goes to ALARM only when the
  oldest of them is at least ``DatapointsToAlarm`` periods old ("avoiding premature transitions to
  alarm state"), else it stays without enough data;
* so an alarm keeps re-evaluating its last datapoints for a while after its metric stops.

How far the range reaches is documented only by example: 5 datapoints for 3 evaluation periods (the
page's tables, for 3 of 3 and 2 of 3). The model takes ``EvaluationPeriods + 2`` for every alarm.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

EVALUATION_RANGE_EXTRA = 2


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class TreatMissing(StrEnum):
    """The ``TreatMissingData`` values the modelled alarms use."""

    MISSING = "missing"
    NOT_BREACHING = "notBreaching"


@dataclass
class Alarm:
    """One alarm's datapoints over its evaluation range, oldest first (None: missing)."""

    periods: int  # EvaluationPeriods
    treat_missing: TreatMissing
    datapoints_to_alarm: int | None = None  # None: EvaluationPeriods (an N out of N alarm)
    points: deque[float | None] = field(init=False)

    def __post_init__(self) -> None:
        if self.periods < 1 or not 1 <= self.to_alarm <= self.periods:
            raise ValueError("need 1 <= datapoints_to_alarm <= periods")
        self.points = deque(maxlen=self.periods + EVALUATION_RANGE_EXTRA)

    @property
    def to_alarm(self) -> int:
        return self.periods if self.datapoints_to_alarm is None else self.datapoints_to_alarm

    def push(self, point: float | None) -> None:
        self.points.append(point)

    def _newest(self) -> list[tuple[int, float]]:
        """The datapoints CloudWatch evaluates that exist: the newest ``periods`` of the range, each
        with its age in periods (1: the period just ended; periods before the first datapoint are
        missing ones)."""
        size = len(self.points)
        existing = [(size - i, point) for i, point in enumerate(self.points) if point is not None]
        return existing[-self.periods :]

    def state(self, breaching: Callable[[float], bool]) -> AlarmState:
        newest = self._newest()
        breaches = [age for age, point in newest if breaching(point)]
        if len(breaches) >= self.to_alarm:
            return AlarmState.ALARM
        if self.treat_missing is TreatMissing.NOT_BREACHING:
            return AlarmState.OK  # the fill-ins are good datapoints
        if not newest:
            return AlarmState.INSUFFICIENT_DATA
        if len(breaches) < len(newest):
            return AlarmState.OK  # a good datapoint, and too few breaching ones
        # Every datapoint breaches, too few of them: ALARM once the oldest is old enough.
        return AlarmState.ALARM if max(breaches) >= self.to_alarm else AlarmState.INSUFFICIENT_DATA

    def latest(self) -> float | None:
        """The newest existing datapoint of the range: what a policy the alarm invokes acts on."""
        return next((point for point in reversed(self.points) if point is not None), None)
