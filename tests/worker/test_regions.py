"""A queue in another region than the worker's: botocore would send every call to the worker's own
region, where the queue does not exist, so the worker refuses it at start, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.worker.conftest import REPO_ROOT
from worker.clients import make_clients, queue_region
from worker.settings import Settings, SettingsError

FAR = "https://sqs.eu-west-1.amazonaws.com/123456789012/work"


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/work", "eu-west-1"),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/work.fifo", "cn-north-1"),
        ("https://ap-south-1.queue.amazonaws.com/123456789012/work", "ap-south-1"),
        ("https://queue.amazonaws.com/123456789012/work", "us-east-1"),
        ("https://vpce-0a1b2c3d-e4f5.sqs.us-west-2.vpce.amazonaws.com/123456789012/work", "us-west-2"),
        ("http://127.0.0.1:5000/123456789012/work", None),
        ("https://sqs.eu-west-1.amazonaws.com.example.org/123456789012/work", None),
    ],
)
def test_the_region_a_queue_url_names(url: str, region: str | None) -> None:
    assert queue_region(url) == region


def test_botocore_sends_to_the_clients_region_whatever_the_queue_url_says() -> None:
    """What the check relies on (boto/boto3 issue 871 asks for the opposite and was not done):
    the request never leaves this process, it is stopped before it is sent."""
    sent: list[Any] = []

    def stop(request: Any, **_: Any) -> None:
        sent.append(request)
        raise RuntimeError("not sent")

    client = boto3.client("sqs", region_name="us-east-1")
    client.meta.events.register("before-send", stop)
    with pytest.raises(RuntimeError, match="not sent"):
        client.receive_message(QueueUrl=FAR)
    (request,) = sent
    assert request.url.startswith("https://sqs.us-east-1.amazonaws.com")
    assert "/us-east-1/sqs/aws4_request" in request.headers["Authorization"].decode()


def test_moto_in_two_regions_a_client_of_another_region_does_not_find_the_queue() -> None:
    with mock_aws():
        url = boto3.client("sqs", region_name="eu-west-1").create_queue(QueueName="work")["QueueUrl"]
        assert queue_region(url) == "eu-west-1"
        near = boto3.client("sqs", region_name="us-east-1")
        with pytest.raises(near.exceptions.QueueDoesNotExist):
            near.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        far = boto3.client("sqs", region_name=queue_region(url))
        assert far.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"QUEUE_URL": FAR}, "QUEUE_URL"),
        (
            {
                "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work",
                "WORKER_QUEUE_URLS": "https://sqs.us-east-1.amazonaws.com/123456789012/work,"
                "arn:aws:sqs:eu-west-1:123456789012:extra",
            },
            "WORKER_QUEUE_URLS",
        ),
    ],
)
def test_a_queue_outside_the_workers_region_is_refused(
    env: dict[str, str], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(SettingsError) as refused:
        make_clients(Settings.from_env(env))
    assert refused.value.variable == variable
    assert "eu-west-1" in str(refused.value) and "us-east-1" in str(refused.value)


def test_without_aws_region_the_queue_url_gives_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    clients = make_clients(Settings.from_env({"QUEUE_URL": FAR}))
    assert clients.sqs.meta.region_name == "eu-west-1"


@pytest.mark.slow
def test_the_worker_exits_2_naming_the_queue_of_another_region() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "QUEUE_URL"))}
    env.update(AWS_REGION="us-east-1", QUEUE_URL=FAR)
    result = subprocess.run(
        [sys.executable, "-m", "worker"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("worker: invalid setting QUEUE_URL: ")
    assert "is in eu-west-1, but this worker runs in us-east-1" in result.stderr
