"""A session-wide moto server (reset per test) and a helper that runs `python -m worker` against it."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# Moto answers faults with HTTP 500: never let botocore retry them in a test.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # one request, no retry


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(moto_server: str) -> str:
    """The server, emptied: every test starts from a blank account."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_server


class Aws:
    """Test-side clients of the moto server, plus small builders."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqs = boto3.client("sqs", endpoint_url=url, region_name=REGION, config=NO_RETRY)
        self.cloudwatch = boto3.client("cloudwatch", endpoint_url=url, region_name=REGION, config=NO_RETRY)
        self.autoscaling = boto3.client("autoscaling", endpoint_url=url, region_name=REGION, config=NO_RETRY)

    def queue(
        self, name: str = "work", visibility: int = 30, max_receive_count: int | None = None
    ) -> tuple[str, str | None]:
        """(queue URL, DLQ URL or None)."""
        attributes: Any = {"VisibilityTimeout": str(visibility)}
        dlq_url = None
        if max_receive_count is not None:
            dlq_url = self.sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            )
        return self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], dlq_url

    def fifo_queue(
        self, name: str = "work", visibility: int = 30, max_receive_count: int | None = None
    ) -> tuple[str, str | None]:
        """A FIFO queue `<name>.fifo` (and its FIFO DLQ): (queue URL, DLQ URL or None)."""
        attributes: Any = {
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "VisibilityTimeout": str(visibility),
        }
        dlq_url = None
        if max_receive_count is not None:
            dlq_url = self.sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})[
                "QueueUrl"
            ]
            dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            )
        return self.sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"], dlq_url

    def send_group(self, queue_url: str, group: str, bodies: list[str]) -> None:
        """The bodies as one message group, in order, 10 to a SendMessageBatch call."""
        for start in range(0, len(bodies), 10):
            entries: Any = [
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageGroupId": group,
                    "MessageDeduplicationId": f"{group}-{start + i}",
                }
                for i, body in enumerate(bodies[start : start + 10])
            ]
            response = self.sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            assert not response.get("Failed")

    def send(self, queue_url: str, bodies: list[str]) -> None:
        for start in range(0, len(bodies), 10):
            entries: Any = [
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])
            ]
            response = self.sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            assert not response.get("Failed")

    def counts(self, queue_url: str) -> tuple[int, int]:
        """(visible, in flight)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def ec2_fleet(self, name: str = "fleet") -> str:
        """A (moto) Auto Scaling group with one InService instance; returns its instance id."""
        self.autoscaling.create_launch_configuration(
            LaunchConfigurationName=f"{name}-lc", ImageId="ami-12c6146b", InstanceType="t3.micro"
        )
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName=f"{name}-lc",
            MinSize=0,
            MaxSize=2,
            DesiredCapacity=1,
            AvailabilityZones=["us-east-1a"],
        )
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return groups["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]

    def drain(self, queue_url: str) -> list[str]:
        """Every body in the queue (received and deleted)."""
        bodies: list[str] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws(moto_url: str) -> Aws:
    return Aws(moto_url)


def job(job_id: str, seconds: float) -> str:
    return json.dumps({"job_id": job_id, "processing_seconds": seconds, "produced_at": time.time()})


def wait_until(
    condition: Callable[[], Any], timeout: float = 60, what: str | Callable[[], str] = "condition"
) -> Any:
    """Poll until `condition()` is truthy; the timeout only bounds a hung test, it asserts no speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.05)


class WorkerProcess:
    """`python -m worker` as a real subprocess; its JSON log lines are collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.raw.append(line)
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    self.lines.append(entry)

    def logs(self, message: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        with self._lock:
            lines = list(self.lines)
        return [
            line
            for line in lines
            if (message is None or line.get("message") == message)
            and all(line.get(key) == value for key, value in fields.items())
        ]

    def outcomes(self, outcome: str) -> list[dict[str, Any]]:
        return self.logs(outcome=outcome)

    def wait_log(self, message: str | None = None, timeout: float = 60, **fields: Any) -> dict[str, Any]:
        found: list[dict[str, Any]] = wait_until(
            lambda: self.logs(message, **fields), timeout, lambda: f"log {message} {fields}\n{self.output()}"
        )
        return found[0]

    def output(self) -> str:
        with self._lock:
            return "".join(self.raw[-60:])

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def start_worker(moto_url: str) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(queue_url: str, **settings: str) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            AWS_ENDPOINT_URL=moto_url,
            AWS_EC2_METADATA_DISABLED="true",
            QUEUE_URL=queue_url,
            WORKER_WAIT_TIME_SECONDS="1",
            WORKER_METRICS_INTERVAL="1",
            WORKER_LOG_LEVEL="DEBUG",
            WORKER_RETRY_BASE_SECONDS="1",
            WORKER_RETRY_MAX_SECONDS="4",
        )
        env.update(settings)
        worker = WorkerProcess(env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def published_sum(cloudwatch: Any, metric: str) -> float:
    """The Sum of what the worker published under namespace "Test" for fleet "fleet" in the last minutes."""
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="Test",
        MetricName=metric,
        Dimensions=[{"Name": "FleetName", "Value": "fleet"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in points))
