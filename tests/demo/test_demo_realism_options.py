"""The demo's share of the simulator's AWS effects (alarm delay, missed publisher samples), and the
policy parts it can turn on or off (the lanes, KeepWarm)."""

from __future__ import annotations

import argparse

import pytest

from qas.demo.cli import QUICK, add_arguments, config_from
from qas.demo.config import DemoConfig
from qas.demo.control import Datapoints, evaluate
from qas.demo.stack import deploy, stack_parameters
from qas.model.control_plane import ControlPlane, ControlPlaneConfig, Source
from queue_autoscaler.scaling.policy_spec import POLICY


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


def test_policy_parts_reach_the_template_and_the_model() -> None:
    # Defaults: both lanes on, no KeepWarm, as the template's defaults
    default = stack_parameters(config_from(parse()))
    assert (default["FastLane"], default["ScaleInLane"], default["KeepWarm"]) == ("true", "true", "false")
    assert "KeepWarmMinutes" not in default
    cfg = config_from(parse("--fast-lane", "off", "--scale-in-lane", "off", "--keep-warm", "7", "--quick"))
    params = stack_parameters(cfg)
    assert (params["FastLane"], params["ScaleInLane"], params["KeepWarm"]) == ("false", "false", "true")
    assert params["KeepWarmMinutes"] == "7"
    with pytest.raises(ValueError, match="--keep-warm"):
        DemoConfig(keep_warm_minutes=0)

    # Deployed on the emulator, the model the demo runs takes what the template then creates: KeepWarm
    # turns target tracking's scale-in off and the scale-in lane back on (scaling.backlog)
    with deploy(cfg) as stack:
        assert (stack.control.fast_lane_steps, stack.control.scale_in_lane_steps) == (
            (),
            POLICY.scale_in_lane_steps,
        )
        assert stack.control.disable_scale_in
        assert stack.control.shutdown_after_minutes == 7
    with deploy(config_from(parse("--quick"))) as stack:
        assert stack.control.fast_lane_steps == POLICY.fast_lane_steps
        assert stack.control.scale_in_lane_steps == POLICY.scale_in_lane_steps
        assert stack.control.shutdown_after_minutes == QUICK["shutdown_after_minutes"]
