"""Queues outside the stack's region: why the stack cannot serve them (botocore calls the client's
region; moto in two regions does not find the queue), and that every part refuses them by name."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from queue_autoscaler.adapters.queue import SqsQueue
from queue_autoscaler.common.regions import queue_region
from queue_autoscaler.common.settings import ConfigError, load_settings
from queue_autoscaler.metric_publisher.settings import PublisherSettings
from queue_autoscaler.producer.settings import ProducerSettings
from worker.clients import queue_region as worker_queue_region

EC2 = {"FLEET_PLATFORM": "EC2", "FLEET_NAME": "workers", "AWS_REGION": "us-east-1"}
NEAR = "https://sqs.us-east-1.amazonaws.com/123456789012/work"
FAR = "https://sqs.eu-west-1.amazonaws.com/123456789012/work"

URLS = [
    (NEAR, "us-east-1"),
    (FAR, "eu-west-1"),
    ("https://sqs.cn-northwest-1.amazonaws.com.cn/123456789012/work.fifo", "cn-northwest-1"),
    ("https://ap-southeast-2.queue.amazonaws.com/123456789012/work", "ap-southeast-2"),
    ("https://queue.amazonaws.com/123456789012/work", "us-east-1"),
    ("https://vpce-0a1b2c3d-e4f5.sqs.us-west-2.vpce.amazonaws.com/123456789012/work", "us-west-2"),
    ("http://127.0.0.1:5000/123456789012/work", None),
    ("https://sqs.eu-west-1.amazonaws.com.example.org/123456789012/work", None),
]


@pytest.mark.parametrize(("url", "region"), URLS)
def test_the_functions_and_the_worker_read_the_same_region_from_a_queue_url(url: str, region: str) -> None:
    assert queue_region(url) == region
    assert worker_queue_region(url) == region


def test_a_queue_arn_names_its_region() -> None:
    assert queue_region("arn:aws:sqs:eu-central-1:123456789012:work.fifo") == "eu-central-1"
    assert queue_region("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:work") == "us-gov-west-1"


def test_botocore_calls_the_clients_region_not_the_queue_urls() -> None:
    """The behaviour every check here rests on; the request is stopped before it is sent."""
    sent: list[Any] = []

    def stop(request: Any, **_: Any) -> None:
        sent.append(request)
        raise RuntimeError("not sent")

    client = boto3.client("sqs", region_name="us-east-1")
    client.meta.events.register("before-send", stop)
    with pytest.raises(RuntimeError, match="not sent"):
        client.get_queue_attributes(QueueUrl=FAR, AttributeNames=["ApproximateNumberOfMessages"])
    (request,) = sent
    assert request.url.startswith("https://sqs.us-east-1.amazonaws.com")
    assert "/us-east-1/sqs/aws4_request" in request.headers["Authorization"].decode()


def test_moto_in_two_regions_the_publishers_read_of_a_queue_elsewhere_fails() -> None:
    with mock_aws():
        far_url = boto3.client("sqs", region_name="eu-west-1").create_queue(QueueName="work")["QueueUrl"]
        near = boto3.client("sqs", region_name="us-east-1")
        with pytest.raises(near.exceptions.QueueDoesNotExist):
            SqsQueue(far_url, near).counts()
        assert SqsQueue(far_url, boto3.client("sqs", region_name="eu-west-1")).counts().visible == 0


@pytest.mark.parametrize(
    ("model", "env", "variable"),
    [
        (PublisherSettings, {**EC2, "QUEUE_URL": FAR}, "QUEUE_URL"),
        (
            PublisherSettings,
            {**EC2, "QUEUE_URL": NEAR, "EXTRA_QUEUE_ARNS": "arn:aws:sqs:eu-west-1:123456789012:extra"},
            "EXTRA_QUEUE_ARNS",
        ),
        (ProducerSettings, {"AWS_REGION": "us-east-1", "QUEUE_URL": FAR}, "QUEUE_URL"),
    ],
)
def test_the_functions_refuse_a_queue_outside_their_region(
    model: type[PublisherSettings | ProducerSettings], env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(model, env)
    assert str(refused.value).startswith(f"{variable}: ")
    assert "is in eu-west-1, but this stack runs in us-east-1" in str(refused.value)


def test_queues_of_the_stacks_region_and_unknown_regions_pass() -> None:
    assert load_settings(PublisherSettings, {**EC2, "QUEUE_URL": NEAR}).region == "us-east-1"
    local = "http://127.0.0.1:5000/123456789012/work"
    assert load_settings(ProducerSettings, {"AWS_REGION": "us-east-1", "QUEUE_URL": local}).queue_url == local
    assert load_settings(ProducerSettings, {"QUEUE_URL": FAR}).region == ""  # outside Lambda: no region
