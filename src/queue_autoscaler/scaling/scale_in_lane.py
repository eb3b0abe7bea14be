"""The scale-in lane: a step policy that removes idle capacity after 5 minutes, not 15.

Pure: the metric publisher publishes :func:`scale_in_pressure` as ``ScaleInPressure``; the template's
ScaleInLaneAlarm (below ``PolicySpec.scale_in_lane_threshold`` for ``scale_in_lane_datapoints``
one-minute datapoints, Maximum) invokes a step policy with ``PolicySpec.scale_in_lane_steps``;
`qas.model.control_plane` models it for the simulator and the demo from the same spec
(tests/template/test_policy_spec.py checks the template against it).

Why: AWS target tracking scales in only after 15 datapoints below about 90% of the target (observed,
not documented: ../shared/aws-facts.md), and that delay cannot be changed: its alarms must not be edited
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html).
On bursty, low-rate workloads the fleet a burst raised then idles for 15 minutes, which costs
capacity at no gain in attainment (docs/design.md, "Policy spec: why each value").

Safety, so the lane never removes what target tracking would keep:

* a step adjustment starts from the RUNNING capacity, not the desired one: ECS applies it to "the
  actual running task count ... as opposed to the desired count"
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-auto-scaling.html), EC2 to the
  current capacity, taking no action when the result is not below desired
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html). While protected
  instances or tasks drain after a scale-in, running exceeds desired, and on ECS a -10% step of the
  running count would RAISE the desired count. So the pressure is this fleet's backlog per running
  instance over the target, and it is reported only when the step it selects, applied to the running
  count, lands below the desired count;
* each step removes what its interval's UPPER bound allows (pressure below 0.5 keeps half), and AWS
  rounds a negative adjustment toward zero, so the new capacity covers ``backlog / target``; a
  fraction of an instance rounds to -1, so no pressure is reported unless one instance fewer covers it;
* it never takes the last instance (the pressure is at least ``1 / running``): going to zero stays the
  shutdown alarm's job, after ``ShutdownAfterMinutes`` of an empty queue (KeepWarm holds);
* no scale-in while capacity boots (running < desired): target tracking's warm-up rule, kept.
"""

from __future__ import annotations

import math

from queue_autoscaler.scaling.policy_spec import POLICY


def scale_in_pressure(
    backlog_per_instance: float,
    running: int,
    desired: int,
    target: float,
    steps: tuple[tuple[float, int], ...] = POLICY.scale_in_lane_steps,
) -> float:
    """This fleet's backlog per running instance, as a share of the target (1.0: nothing to remove).

    ``backlog_per_instance`` is the published metric (it divides by all running capacity on the
    queue, peers included), so ``backlog_per_instance * running`` is this fleet's share.
    """
    if target <= 0:
        raise ValueError(f"target must be > 0, got {target!r}")
    if min(running, desired) < 0 or backlog_per_instance < 0:
        raise ValueError("counts and the metric cannot be negative")
    if desired <= 1 or running < desired:
        return 1.0
    share = backlog_per_instance * running  # this fleet's backlog
    if share > (running - 1) * target:
        # AWS removes at least one instance for any step (a fraction rounds to -1): only report a
        # pressure when one instance fewer still covers what target tracking asks for.
        return 1.0
    pressure = max(share / (running * target), 1.0 / running)
    after = scale_in_lane_capacity(pressure, running, steps)
    # A step that would not go below desired does nothing on EC2 and raises desired on ECS.
    return pressure if after is not None and after < desired else 1.0


def scale_in_lane_capacity(
    pressure: float, running: int, steps: tuple[tuple[float, int], ...] = POLICY.scale_in_lane_steps
) -> int | None:
    """The step policy's new capacity for this pressure, counted from the running capacity (the step's
    starting point on EC2 and ECS), or None when no step applies."""
    # Below an alarm's threshold a step's upper bound is inclusive (EC2 and Application Auto Scaling
    # step scaling docs): at exactly 0.5 the -50% step applies.
    percent = next((removed for upper, removed in sorted(steps) if pressure <= upper), None)
    if percent is None or running <= 1 or pressure >= max(upper for upper, _ in steps):
        return None
    removal = running * percent / 100
    # AWS rounds a PercentChangeInCapacity result: between 0 and -1 to -1, below -1 toward zero.
    removed = 1 if removal < 1 else math.floor(removal)
    return max(1, running - removed)
