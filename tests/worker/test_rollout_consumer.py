"""A retired consumer (in process, on moto): what a long poll brings after retirement is handed back.

The receive hook retires the consumer at the moment ReceiveMessage returns, as a rollout check
that lands during a long poll would. The consumer runs in the main thread (it installs signal
handlers); a helper thread stops it once the message is back in the queue.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
from moto import mock_aws

from worker.consumer import Consumer
from worker.metrics import Publisher, Recorder
from worker.protection import ProtectionState
from worker.settings import Settings


class RecordingProtector:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def set(self, enabled: bool) -> None:
        self.calls.append(enabled)

    def refresh_after(self) -> float | None:
        return None


@mock_aws
def test_messages_of_a_poll_in_flight_at_retirement_are_released_not_run() -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"processing_seconds": 0}')
    settings = Settings(
        queue_url=queue_url, visibility_timeout=30, wait_time_seconds=0, metrics_interval=3600
    )
    ran: list[Any] = []
    protector = RecordingProtector()
    recorder = Recorder()
    consumer = Consumer(
        settings,
        sqs,
        ran.append,
        protection=ProtectionState(protector),
        recorder=recorder,
        publisher=Publisher(cloudwatch, "QueueAutoscaler", "local", recorder),
    )

    received = threading.Event()

    def retire_on_receive(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Messages"):
            consumer.retire("a newer task definition runs")
            received.set()

    sqs.meta.events.register("after-call.sqs.ReceiveMessage", retire_on_receive)

    def stop_when_back() -> None:
        # Only a bound on a hung test; the assertions below say what happened.
        deadline = time.monotonic() + 30
        received.wait(30)
        while time.monotonic() < deadline:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            if attributes["Attributes"]["ApproximateNumberOfMessages"] == "1":
                break
            time.sleep(0.05)
        consumer.request_stop("test over")

    helper = threading.Thread(target=stop_when_back, daemon=True)
    helper.start()
    assert consumer.run() == 0
    helper.join(timeout=5)

    assert received.is_set(), "the message was received once"
    assert ran == [], "a retired worker starts nothing"
    assert protector.calls == [], "nor takes protection for it"
    [message] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert message["Body"] == '{"processing_seconds": 0}'
