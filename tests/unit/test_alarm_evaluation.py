"""CloudWatch's evaluation of an alarm with missing datapoints, row by row from the two tables of
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
("How alarm state is evaluated when data is missing"): 5 datapoints retrieved for 3 evaluation
periods, oldest first; 0 is a good datapoint, X a breaching one, - a missing one."""

from __future__ import annotations

import pytest

from qas.model.alarm import EVALUATION_RANGE_EXTRA, Alarm, AlarmState, TreatMissing

OK, ALARM, NO_DATA = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
BREACH = 1.0


def alarm_after(row: str, to_alarm: int, treat: TreatMissing) -> Alarm:
    alarm = Alarm(3, treat, datapoints_to_alarm=to_alarm)
    for cell in row.split():
        alarm.push(None if cell == "-" else BREACH if cell == "X" else 0.0)
    return alarm


@pytest.mark.parametrize(
    ("row", "to_alarm", "missing", "not_breaching"),
    [
        # 3 out of 3
        ("0 - X - X", 3, OK, OK),
        ("0 - - - -", 3, OK, OK),
        ("- - - - -", 3, NO_DATA, OK),
        ("0 X X - X", 3, ALARM, ALARM),
        ("- - - - X", 3, NO_DATA, OK),
        ("X - - - -", 3, ALARM, OK),
        # 2 out of 3
        ("0 - X - X", 2, ALARM, ALARM),
        ("0 0 X 0 X", 2, ALARM, ALARM),
        ("0 - X - -", 2, OK, OK),
        ("- - - - 0", 2, OK, OK),
        ("- - - - X", 2, NO_DATA, OK),
    ],
)
def test_the_documented_examples(
    row: str, to_alarm: int, missing: AlarmState, not_breaching: AlarmState
) -> None:
    def breaching(point: float) -> bool:
        return point > 0

    assert alarm_after(row, to_alarm, TreatMissing.MISSING).state(breaching) is missing
    assert alarm_after(row, to_alarm, TreatMissing.NOT_BREACHING).state(breaching) is not_breaching


def test_the_range_is_the_documented_five_for_three_periods() -> None:
    assert 3 + EVALUATION_RANGE_EXTRA == 5
    # A breach 5 periods old still counts; 6 periods old it has left the range
    assert alarm_after("X - - - -", 3, TreatMissing.MISSING).state(lambda p: p > 0) is ALARM
    assert alarm_after("X - - - - -", 3, TreatMissing.MISSING).state(lambda p: p > 0) is NO_DATA


def test_the_newest_existing_datapoints_are_evaluated_and_acted_on() -> None:
    alarm = Alarm(2, TreatMissing.NOT_BREACHING)
    for point in (5.0, 7.0, None, 9.0):
        alarm.push(point)
    # 7 and 9 are evaluated (the missing one is skipped, 5 is older than the newest two)
    assert alarm.state(lambda p: p > 6) is ALARM
    assert alarm.state(lambda p: p > 8) is OK
    assert alarm.latest() == 9.0
    alarm.push(None)
    assert alarm.latest() == 9.0


def test_before_any_datapoint_nothing_is_known() -> None:
    alarm = Alarm(1, TreatMissing.MISSING)
    assert alarm.latest() is None
    assert alarm.state(lambda p: p > 0) is NO_DATA


def test_datapoints_to_alarm_must_fit_the_periods() -> None:
    with pytest.raises(ValueError, match=r"^need 1 <= datapoints_to_alarm <= periods$"):
        Alarm(3, TreatMissing.MISSING, datapoints_to_alarm=4)
    with pytest.raises(ValueError, match=r"^need 1 <= datapoints_to_alarm <= periods$"):
        Alarm(0, TreatMissing.MISSING)
