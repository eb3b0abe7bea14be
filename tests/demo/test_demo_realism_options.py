"""The demo's share of the simulator's AWS effects: alarm delay and missed publisher samples."""

from __future__ import annotations

import argparse

import pytest

from qas.demo.cli import add_arguments, config_from
from qas.demo.config import DemoConfig
from qas.demo.control import Datapoints, evaluate
from scaling.control_plane import ControlPlane, ControlPlaneConfig, Source


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_off_by_default_and_set_by_their_flags() -> None:
    default = config_from(parse())
    assert (default.alarm_delay_minutes, default.missed_sample_rate) == (0, 0.0)
    cfg = config_from(parse("--alarm-delay-minutes", "1", "--missed-sample-rate", "0.2"))
    assert (cfg.alarm_delay_minutes, cfg.missed_sample_rate) == (1, 0.2)


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("alarm_delay_minutes", -1, "--alarm-delay-minutes"),
        ("missed_sample_rate", 1.0, "--missed-sample-rate"),
    ],
)
def test_bad_values_name_the_flag(field: str, value: float, flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        DemoConfig(**{field: value})  # type: ignore[arg-type]


def test_a_minute_without_datapoints_fires_nothing() -> None:
    # Given work waiting with no capacity: the bootstrap alarm fires on a published minute
    published = Datapoints(backlog_per_instance=5.0, visible=5, in_flight=0, running=0, desired=0)
    model = ControlPlane(ControlPlaneConfig(target=2.0, max_capacity=4))
    fired = evaluate(model, 0, published, desired_now=0, running_now=0)
    assert fired.desired == 1 and [a.source for a in fired.actions] == [Source.BOOTSTRAP]
    # When the publisher did not run (or the delayed datapoint has not arrived): nothing fires
    quiet = ControlPlane(ControlPlaneConfig(target=2.0, max_capacity=4))
    missing = Datapoints(None, None, None, None, None)
    result = evaluate(quiet, 0, missing, desired_now=0, running_now=0)
    assert result.desired == 0 and result.actions == ()
