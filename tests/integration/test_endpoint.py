"""A handler in its own process reaches an emulator through AWS_ENDPOINT_URL (as in the demo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

SCRIPT = """
import json
from qas.emulator.lambda_context import LocalLambdaContext
from queue_autoscaler.metric_publisher.app import lambda_handler
print(json.dumps(lambda_handler({}, LocalLambdaContext(function_name="metric-publisher"))))
"""


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.mark.slow
def test_publisher_process_uses_the_endpoint_and_fails_cold_start_on_bad_config(endpoint):
    config = Config(retries={"max_attempts": 1})
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint, config=config)
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=endpoint, config=config)
    ecs.create_cluster(clusterName="c")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_LAMBDA_FUNCTION_NAME": "metric-publisher",
        "QUEUE_URL": url,
        "FLEET_PLATFORM": "ECS",
        "FLEET_NAME": "svc",
        "ECS_CLUSTER": "c",
        "POWERTOOLS_METRICS_NAMESPACE": "EndpointTest",
    }
    ecs.create_service(cluster="c", serviceName="svc", desiredCount=0)

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    sample = json.loads(done.stdout.strip().splitlines()[-1])["samples"][0]
    assert (sample["VisibleMessages"], sample["RunningCapacity"], sample["BacklogPerInstance"]) == (1, 0, 1)
    now = datetime.now(UTC)
    points = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=endpoint).get_metric_statistics(
        Namespace="EndpointTest",
        MetricName="BacklogPerInstance",
        Dimensions=[{"Name": "FleetName", "Value": "svc"}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [p["Maximum"] for p in points] == [1.0]

    # With a bad setting the import itself (the cold start) fails, naming the variable.
    broken = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**env, "FLEET_PLATFORM": "K8S"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert broken.returncode != 0
    assert "ConfigError: FLEET_PLATFORM" in broken.stderr
