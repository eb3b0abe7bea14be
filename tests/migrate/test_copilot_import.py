"""`qas import copilot`: Copilot Worker Service manifests written from the examples and fields of
Copilot's manifest reference (https://aws.github.io/copilot-cli/docs/manifest/worker-service/), converted
to parameters; every expectation below is computed by hand in its comment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from qas import cli
from qas.migrate.copilot import ManifestError, convert, duration_s

# The reference's "Spot autoscaling" example.
SPOT_AUTOSCALING = """
name: cost-analyzer
type: Worker Service
image:
  build: ./cost-analyzer/Dockerfile
subscribe:
  topics:
    - name: products
      service: orders
    - name: inventory
      service: warehouse
cpu: 256
memory: 512
count:
  range:
    min: 1
    max: 10
    spot_from: 2
  queue_delay:
    acceptable_latency: 10m
    msg_processing_time: 250ms
exec: true
"""

# The reference's "Single queue" example.
SINGLE_QUEUE = """
name: cost-analyzer
type: Worker Service
image:
  build: ./cost-analyzer/Dockerfile
subscribe:
  topics:
    - name: products
      service: orders
      filter_policy:
        event:
        - anything-but: order_cancelled
    - name: inventory
      service: warehouse
  queue:
    retention: 96h
    timeout: 30s
    dead_letter:
      tries: 10
cpu: 256
memory: 512
count: 3
exec: true
secrets:
  DB:
    secretsmanager: '${COPILOT_APPLICATION_NAME}/${COPILOT_ENVIRONMENT_NAME}/mysql'
"""

# The reference's "Separate queues" example.
SEPARATE_QUEUES = """
name: cost-analyzer
type: Worker Service
image:
  build: ./cost-analyzer/Dockerfile
subscribe:
  topics:
    - name: products
      service: orders
      queue:
        retention: 5d
        timeout: 1h
        dead_letter:
          tries: 3
    - name: inventory
      service: warehouse
      queue:
        retention: 1d
        timeout: 5m
count: 1
"""

# Other documented fields: platform, image.location, fifo, delay, cpu_percentage, a cpu the template
# does not take, and an environment override.
OVERRIDDEN = """
name: transcoder
type: Worker Service
image:
  location: 123456789012.dkr.ecr.us-east-1.amazonaws.com/transcoder:v7
platform: linux/arm64
cpu: 8192
memory: 16384
subscribe:
  queue:
    timeout: 5s
    delay: 30s
    fifo: true
    dead_letter:
      tries: 4
count:
  range: 0-5
  cpu_percentage: 70
  queue_delay:
    acceptable_latency: 1h
    msg_processing_time: 2m
environments:
  prod:
    count:
      range: 2-20
"""


def _convert(text: str, **options: object) -> object:
    return convert(yaml.safe_load(text), **options)  # type: ignore[arg-type]


def test_the_spot_autoscaling_example() -> None:
    result = convert(yaml.safe_load(SPOT_AUTOSCALING))
    # LatencySloSeconds = ceil(600 s + 0.25 s) = 601; InitialTarget = 1 x 600.25 / 0.25 = 2401 (Copilot's
    # 2400 visible messages a task, plus the one it holds).
    assert result.overrides() == [
        "WorkerPlatform=ECS",
        "MaxCapacity=10",
        "UseFargateSpot=true",
        "LatencySloSeconds=601",
        "WorkerConcurrency=1",
        "InitialTarget=2401",
        "TaskCpu=256",
        "TaskMemory=512",
    ]
    assert [where for where, _ in result.not_carried] == [
        "count.range.min",
        "count.range.spot_from",
        "subscribe.topics[orders-products]",
        "subscribe.topics[warehouse-inventory]",
        "image.build",
        "exec",
    ]
    assert "first 1 on Spot" in dict(result.not_carried)["count.range.spot_from"]
    changes = " ".join(result.changes)
    for change in (
        "in-flight counted",
        "the target retuned",
        "scale to zero",
        "the SLO guard",
        "no dead-letter",
    ):
        assert change in changes


def test_concurrency_multiplies_the_target() -> None:
    result = convert(yaml.safe_load(SPOT_AUTOSCALING), concurrency=4)
    # 4 x 600.25 / 0.25 = 9604
    assert result.parameters["InitialTarget"] == "9604"
    assert result.parameters["WorkerConcurrency"] == "4"
    assert result.parameters["LatencySloSeconds"] == "601"


def test_the_single_queue_example() -> None:
    result = convert(yaml.safe_load(SINGLE_QUEUE))
    # 96h is the stack queue's 4 days: nothing to say about retention.
    assert result.overrides() == [
        "WorkerPlatform=ECS",
        "MaxCapacity=3",
        "TaskCpu=256",
        "TaskMemory=512",
        "WorkerVisibilityTimeout=30",
        "MaxReceiveCount=10",
    ]
    assert [where for where, _ in result.not_carried] == [
        "subscribe.topics[orders-products]",
        "subscribe.topics[warehouse-inventory]",
        "image.build",
        "exec",
        "secrets",
    ]
    changes = " ".join(result.changes)
    assert "Copilot kept 3 tasks running; the stack scales 0..3" in changes
    assert "no count.queue_delay" in changes and "no dead-letter" not in changes


def test_the_separate_queues_example() -> None:
    result = convert(yaml.safe_load(SEPARATE_QUEUES))
    assert result.overrides() == ["WorkerPlatform=ECS", "MaxCapacity=1"]
    assert [where for where, _ in result.not_carried] == [
        "subscribe.topics[orders-products]",
        "subscribe.topics[orders-products].queue",
        "subscribe.topics[warehouse-inventory]",
        "subscribe.topics[warehouse-inventory].queue",
        "image.build",
    ]
    assert "ExtraQueueArns" in dict(result.not_carried)["subscribe.topics[orders-products].queue"]


def test_an_environment_override_and_the_other_fields() -> None:
    result = convert(yaml.safe_load(OVERRIDDEN), env="prod", app="media")
    # prod's range 2-20 replaces 0-5; SLO = 3600 + 120 = 3720 s; target = 1 x 3720 / 120 = 31; the 5 s
    # timeout is raised to the template's least, 10 s; 8192 CPU units are not a TaskCpu value.
    assert result.overrides() == [
        "WorkerPlatform=ECS",
        "MaxCapacity=20",
        "LatencySloSeconds=3720",
        "WorkerConcurrency=1",
        "InitialTarget=31",
        "TaskMemory=16384",
        "FargateCpuArchitecture=ARM64",
        "WorkerVisibilityTimeout=10",
        "MaxReceiveCount=4",
        "QueueType=FIFO",
        "WorkerImageUri=123456789012.dkr.ecr.us-east-1.amazonaws.com/transcoder:v7",
    ]
    assert [where for where, _ in result.not_carried] == [
        "count.range.min",
        "count.cpu_percentage",
        "cpu",
        "subscribe.queue.delay",
    ]
    assert "raised to 10 s" in " ".join(result.changes)
    assert result.attach["ExistingEcsClusterName"].endswith("media-prod-Cluster-<suffix>")
    assert "media-prod-transcoder-Service-<suffix>" in result.attach["ExistingEcsServiceName"]
    assert "media-prod-transcoder-EventsQueue" in result.attach["ExistingQueueArn"]
    without = convert(yaml.safe_load(OVERRIDDEN))
    assert without.parameters["MaxCapacity"] == "5"  # no --env: the manifest's own range
    assert "pass --env prod" in dict(without.not_carried)["environments.prod"]


def test_fields_with_no_parameter_are_each_named() -> None:
    manifest = """
name: w
type: Worker Service
image: {location: repo/w:1, port: 8080}
platform: {osfamily: windows_server_2019_full, architecture: x86_64}
count: {spot: 4, cooldown: {in: 30s}}
subscribe: {queue: {fifo: {high_throughput: true}, retention: 2d}}
variables: {A: b}
unknown_field: 1
"""
    result = convert(yaml.safe_load(manifest))
    assert result.overrides() == [
        "WorkerPlatform=ECS",
        "MaxCapacity=4",
        "UseFargateSpot=true",
        "QueueType=FIFO",
        "WorkerImageUri=repo/w:1",
    ]
    # 2d = 172,800 s, not the stack queue's 345,600.
    assert [where for where, _ in result.not_carried] == [
        "count.cooldown",
        "platform",
        "subscribe.queue.retention",
        "subscribe.queue.fifo.high_throughput",
        "image.port",
        "variables",
        "unknown_field",
    ]
    assert "importer knows" in dict(result.not_carried)["unknown_field"]
    absent = convert({"name": "w", "type": "Worker Service"})
    assert absent.overrides() == ["WorkerPlatform=ECS"]
    assert [where for where, _ in absent.not_carried] == ["count"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("250ms", 0.25), ("45s", 45), ("10m", 600), ("1h30m", 5400), ("4d", 345_600)]
)
def test_copilot_durations(text: str, seconds: float) -> None:
    assert duration_s(text, "x") == seconds


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "10 m", "5m10", 10])
def test_a_bad_duration_names_the_field(text: object) -> None:
    with pytest.raises(ManifestError, match=r"^f\.g: .* is not a duration"):
        duration_s(text, "f.g")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("type: Load Balanced Web Service", "type: 'Load Balanced Web Service' is not a 'Worker Service'"),
        ("name: ''", "name: missing"),
        ("count: {range: 10-1}", "count.range: min 10 is above max 1"),
        ("count: {range: 1-2000}", "count.range: max 2000 is above MaxCapacity's limit 1000"),
        ("count: {range: lots}", "count.range: 'lots' is not MIN-MAX"),
        ("count: -1", "count: must be a whole number 0..1000"),
        (
            "count: {range: 1-4, queue_delay: {acceptable_latency: 10m, msg_processing_time: 0s}}",
            "count.queue_delay.msg_processing_time: must be more than 0",
        ),
        (
            "count: {range: 1-4, queue_delay: {acceptable_latency: soon, msg_processing_time: 1s}}",
            "count.queue_delay.acceptable_latency: 'soon' is not a duration",
        ),
        (
            "subscribe: {queue: {dead_letter: {tries: 0}}}",
            "subscribe.queue.dead_letter.tries: must be a whole number 1..1000",
        ),
        ("subscribe: {queue: {timeout: 13h}}", "subscribe.queue.timeout: 13h is over SQS's 12 hours"),
        ("subscribe: {topics: orders}", "subscribe.topics: must be a list"),
        ("cpu: lots", "cpu: must be a whole number"),
    ],
)
def test_a_bad_manifest_is_a_usage_error_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str, message: str
) -> None:
    key = edit.split(":", 1)[0]
    base = {"name": "jobs", "type": "Worker Service", "count": 1}
    document = {**base, **yaml.safe_load(edit)}
    assert key in document
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(yaml.safe_dump(document))
    assert cli.main(["import", "copilot", str(manifest)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"qas import copilot: {manifest}: ") and message in error


@pytest.mark.parametrize(
    ("content", "message"), [("- a\n- b\n", "the manifest: must be a mapping"), ("a: [b\n", "cannot read it")]
)
def test_a_file_that_is_no_manifest_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(content)
    assert cli.main(["import", "copilot", str(manifest)]) == 2
    assert message in capsys.readouterr().err
    assert cli.main(["import", "copilot", str(tmp_path / "absent.yml")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_the_command_prints_samconfig_lines_or_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(SPOT_AUTOSCALING)
    assert cli.main(["import", "copilot", str(manifest), "--json", "--concurrency", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # 2 x 600.25 / 0.25 = 4802
    assert "InitialTarget=4802" in printed["parameter_overrides"]
    assert {"field": "exec", "why": "ECS Exec: the stack's service does not turn it on"} in printed[
        "not_carried"
    ]
    assert set(printed["attach"]) == {
        "ExistingEcsClusterName",
        "ExistingEcsServiceName",
        "ExistingQueueArn",
        "ExistingQueueKmsKeyArn",
    }
    assert cli.main(["import", "copilot", str(manifest)]) == 0
    text = capsys.readouterr().out
    assert '  "InitialTarget=2401",' in text and "#   exec: ECS Exec" in text
