"""The aws-guidance baseline's TargetValue stays within what AWS accepts, whatever the durations."""

from __future__ import annotations

import math

from qas.sim.policies import TARGET_VALUE_MAX, guidance_target_value


def test_the_guidance_target_is_the_slo_over_the_mean() -> None:
    assert guidance_target_value(300.0, 20.0) == 15.0


def test_a_target_below_the_floor_is_raised_to_it() -> None:
    assert guidance_target_value(1.0, 100.0) == 0.1


def test_instant_jobs_give_the_largest_target_aws_takes_not_an_infinite_one() -> None:
    # 300 s over a denormal mean overflows to inf: the control plane would refuse it.
    target = guidance_target_value(300.0, 2.225073858507203e-309)
    assert math.isfinite(target)
    assert target == TARGET_VALUE_MAX == 2.0**360
