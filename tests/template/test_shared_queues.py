"""Deployed on the emulator: two stacks sharing one queue (blue/green), and one fleet serving a FIFO
queue plus extra queues. The publishers run with their deployed environment against the emulator."""

from __future__ import annotations

import math

import pytest

from qas import emulator
from qas.model.control_plane import ControlPlane, ControlPlaneConfig, PeriodInput, Platform
from queue_autoscaler.metric_publisher import app as publisher_app
from tests.template.conftest import aws, deployed
from tests.template.test_iam import Recorder, _calls, _check_role, _run_as_function, recorder

__all__ = ["recorder"]  # the fixture, shared with test_iam

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(f"ignore:{emulator.SKIPPED_WARNING}")]


def _queue_arn(stack: emulator.DeployedStack, url: str) -> str:
    attributes = aws(stack, "sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _set_capacity(stack: emulator.DeployedStack, desired: int) -> None:
    aws(stack, "autoscaling").set_desired_capacity(
        AutoScalingGroupName=stack.outputs["FleetName"], DesiredCapacity=desired
    )


def _tracking(stack: emulator.DeployedStack) -> ControlPlane:
    """Target tracking as AWS runs it on this stack's deployed policy (qas.model.control_plane)."""
    assert stack.scaling is not None
    return ControlPlane(
        ControlPlaneConfig(
            target=stack.scaling.tracking_policy.target_value,
            platform=Platform.EC2,
            max_capacity=stack.scaling.max_capacity,
            instance_warmup_s=0,
        )
    )


def test_blue_and_green_on_one_queue_together_size_like_one_fleet(server, monkeypatch, recorder: Recorder):
    # Given blue (its own queue) and green (on blue's queue), each naming the other in PeerFleets
    blue = deployed(server, "bg-blue", {"PeerFleets": "bg-green-workers", "MaxCapacity": "40"}, "EC2")
    queue_url = blue.outputs["QueueUrl"]
    green_parameters = {
        "ExistingQueueArn": _queue_arn(blue, queue_url),
        "PeerFleets": "bg-blue-workers",
        "MaxCapacity": "40",
    }
    green = deployed(server, "bg-green", green_parameters, "EC2")
    assert green.outputs["QueueUrl"].rsplit("/", 1)[1] == queue_url.rsplit("/", 1)[1]
    # ... 2 instances each, and 300 messages waiting
    for stack in (blue, green):
        _set_capacity(stack, 2)
    sqs = aws(blue, "sqs")
    for start in range(0, 300, 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": '{"processing_seconds": 1}'} for i in range(start, start + 10)
            ],
        )

    # When both publishers and both target-tracking policies run for three periods
    planes = {stack.stack_name: _tracking(stack) for stack in (blue, green)}
    desired: dict[str, int] = {}
    for minute in range(3):
        for stack in (blue, green):
            sample = _run_as_function(
                monkeypatch, recorder, stack, "MetricPublisherFunction", publisher_app.lambda_handler
            )["samples"][0]
            result = planes[stack.stack_name].evaluate(
                PeriodInput(
                    now_s=60.0 * (minute + 1),
                    metric=sample["BacklogPerInstance"],
                    visible=int(sample["VisibleMessages"]),
                    in_flight=int(sample["InFlightMessages"]),
                    running=int(sample["RunningCapacity"]),
                    desired=int(sample["DesiredCapacity"]),
                )
            )
            desired[stack.stack_name] = result.desired
            # Each divides the 300 messages by all 4 running instances, its own 2 and the peer's 2.
            assert sample["PeerRunningCapacity"] == 2.0
            assert sample["BacklogPerInstance"] == 300 / 4

    # Then together they ask for what one fleet alone would: ceil(300 / target), not twice that
    target = planes["bg-blue"].target
    assert desired["bg-blue"] == desired["bg-green"]
    assert sum(desired.values()) == math.ceil(300 / target)
    # Each publisher's role allows what it called, peers included, and no more.
    _check_role(green, "MetricPublisherFunction", _calls(green, recorder))
    # While the peer runs, this fleet's bootstrap stays quiet (a fleet scaled to 0 stays there).
    assert blue.scaling is not None
    bootstrap, _ = blue.scaling.bootstrap
    assert bootstrap.expression == f"IF(desired == 0 AND peers == 0, visible / {target:g}, 0)"


def test_fifo_queue_with_extra_queues(server, monkeypatch, recorder: Recorder):
    # Given two existing queues the fleet also serves, after its own FIFO queue
    sqs = emulator.client(server.endpoint, "sqs", max_attempts=1)
    low = sqs.create_queue(QueueName="batch-low")["QueueUrl"]
    later = sqs.create_queue(QueueName="batch-later.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arns = [
        sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for u in (low, later)
    ]
    parameters = {
        "QueueType": "FIFO",
        "ExtraQueueArns": ",".join(arns),
        "QueueWeights": "1,2,1",
        "WorkerConcurrency": "4",
    }
    stack = deployed(server, "multi-fifo", parameters, "EC2")
    _set_capacity(stack, 3)
    # ... 40 messages in 2 groups on the FIFO queue, the first of each in flight; 5 on the low queue
    fifo = stack.outputs["QueueUrl"]
    for index in range(40):
        sqs.send_message(
            QueueUrl=fifo, MessageBody="{}", MessageGroupId=f"g{index % 2}", MessageDeduplicationId=str(index)
        )
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, VisibilityTimeout=600)["Messages"]
    for index in range(5):
        sqs.send_message(QueueUrl=low, MessageBody=str(index))

    sample = _run_as_function(
        monkeypatch, recorder, stack, "MetricPublisherFunction", publisher_app.lambda_handler
    )["samples"][0]

    # Then the backlogs add up (the low queue's messages weigh 2) ...
    assert (sample["VisibleMessages"], sample["InFlightMessages"]) == (38 + 2 * 5, 2)
    # ... but 2 busy slots of 12 with messages waiting: group-bound, so the metric asks for
    # ceil((2 + 1) / 4) = 1 instance at the deployed target, not (48 + 2) / 3 per instance.
    assert stack.scaling is not None
    target = stack.scaling.tracking_policy.target_value
    assert sample["BacklogPerInstance"] == pytest.approx(target * 1 / 3)
    calls = _calls(stack, recorder)
    assert "autoscaling:DescribePolicies" in {call.action for call in calls}
    assert {c.resource.rsplit(":", 1)[1] for c in calls if c.action == "sqs:GetQueueAttributes"} == {
        "multi-fifo-work.fifo",
        "batch-low",
        "batch-later.fifo",
    }
    _check_role(stack, "MetricPublisherFunction", calls)
    # The FIFO bootstrap starts one instance; the extra queues get their own SLO alarm.
    bootstrap, policy = stack.scaling.bootstrap
    assert bootstrap.expression == "IF(desired == 0 AND visible > 0, 1, 0)"
    assert policy.steps[0].scaling_adjustment == 1
    slo = stack.scaling.alarms["ExtraQueuesSloBreachAlarm"]
    assert slo.expression == "MAX([q1, q2])"
    names = sorted(q.dimensions["QueueName"] for q in slo.metrics if q.dimensions)
    assert names == ["batch-later.fifo", "batch-low"]
