"""The producer on moto: standard and FIFO queues, malformed share, partial failures, bad input."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from queue_autoscaler.adapters.errors import PartialFailureError
from queue_autoscaler.adapters.queue import SqsQueue
from queue_autoscaler.common.settings import ConfigError
from queue_autoscaler.producer import app
from queue_autoscaler.producer.settings import InvalidEventError, ProducerEvent, ProducerSettings
from tests.integration.conftest import REGION, error_records, load_event, make_queue

# The Metrics decorator warns when an invocation fails before any metric was added.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def drain(url: str) -> list[Any]:
    """Every message in the queue, with its FIFO attributes (deleted as read: FIFO groups lock)."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[Any] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


def is_well_formed(body: str) -> bool:
    """The contract: JSON with a non-negative finite processing_seconds."""
    try:
        seconds = json.loads(body)["processing_seconds"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0


def set_env(monkeypatch: pytest.MonkeyPatch, queue_url: str, **extra: str) -> None:
    for key, value in {"QUEUE_URL": queue_url, **extra}.items():
        monkeypatch.setenv(key, value)


def test_sample_event_sends_its_lognormal_messages(monkeypatch, context):
    url = make_queue()
    set_env(monkeypatch, url)

    result = app.lambda_handler(load_event("producer"), context)

    messages = drain(url)
    assert result == {"sent": 50, "malformed": 0, "fifo": False, "distribution": "lognormal"}
    assert len(messages) == 50
    bodies = [json.loads(m["Body"]) for m in messages]
    assert all(is_well_formed(m["Body"]) for m in messages)
    assert len({b["job_id"] for b in bodies}) == 50
    assert all(b["processing_seconds"] > 0 for b in bodies)


def test_defaults_come_from_the_environment(monkeypatch, context):
    url = make_queue()
    set_env(
        monkeypatch,
        url,
        PRODUCER_MESSAGE_COUNT="13",
        PRODUCER_DISTRIBUTION='{"kind": "uniform", "low_seconds": 2, "high_seconds": 4}',
    )

    # A schedule without Input delivers the scheduled event itself: every default applies.
    result = app.lambda_handler(load_event("metric_publisher"), context)

    seconds = [json.loads(m["Body"])["processing_seconds"] for m in drain(url)]
    assert result["sent"] == 13
    assert len(seconds) == 13
    assert all(2 <= s <= 4 for s in seconds)


def test_fifo_spreads_groups_with_unique_deduplication_ids(monkeypatch, context):
    url = make_queue("work.fifo")
    set_env(monkeypatch, url, PRODUCER_MESSAGE_GROUPS="4")

    result = app.lambda_handler({"count": 25, "distribution": {"kind": "fixed", "seconds": 3}}, context)

    messages = drain(url)
    # Every message arrived: none was dropped as a duplicate inside the deduplication window
    assert result["sent"] == 25
    assert len(messages) == 25
    dedup_ids = [m["Attributes"]["MessageDeduplicationId"] for m in messages]
    assert len(set(dedup_ids)) == 25
    assert all(len(d) == 32 for d in dedup_ids)  # uuid4 hex, not a small random number
    groups = [m["Attributes"]["MessageGroupId"] for m in messages]
    assert sorted(set(groups)) == ["group-0", "group-1", "group-2", "group-3"]
    assert {json.loads(m["Body"])["processing_seconds"] for m in messages} == {3}


def test_malformed_share_is_exact(monkeypatch, context):
    url = make_queue()
    set_env(monkeypatch, url)

    result = app.lambda_handler({"count": 20, "malformed_ratio": 0.25}, context)

    bodies = [m["Body"] for m in drain(url)]
    assert result["malformed"] == 5
    assert len(bodies) == 20
    assert sum(not is_well_formed(b) for b in bodies) == 5


@pytest.mark.parametrize(
    "event",
    [
        {"count": -1},
        {"count": 10, "distribution": {"kind": "pareto"}},
        {"distribution": {"kind": "uniform", "low_seconds": 9, "high_seconds": 1}},
        {"malformed_ratio": 1.5},
        {"cuont": 10},
    ],
)
def test_bad_event_fails_clearly_and_sends_nothing(monkeypatch, context, caplog, event):
    url = make_queue()
    set_env(monkeypatch, url)

    with pytest.raises(InvalidEventError, match="invalid producer event"):
        app.lambda_handler(event, context)

    assert len(error_records(caplog)) == 1
    assert drain(url) == []


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"QUEUE_URL": ""}, "QUEUE_URL"),
        ({"PRODUCER_DISTRIBUTION": "{not json"}, "PRODUCER_DISTRIBUTION"),
        (
            {"PRODUCER_DISTRIBUTION": '{"kind": "lognormal", "mean_seconds": -1, "sigma": 1}'},
            "PRODUCER_DISTRIBUTION",
        ),
        ({"PRODUCER_MALFORMED_RATIO": "2"}, "PRODUCER_MALFORMED_RATIO"),
        ({"PRODUCER_MESSAGE_GROUPS": "0"}, "PRODUCER_MESSAGE_GROUPS"),
        ({"PRODUCER_MESSAGE_COUNT": "many"}, "PRODUCER_MESSAGE_COUNT"),
    ],
)
def test_bad_configuration_names_the_variable(monkeypatch, context, env, variable):
    set_env(monkeypatch, "https://sqs.us-east-1.amazonaws.com/123456789012/work", **env)

    with pytest.raises(ConfigError, match=variable):
        app.lambda_handler({}, context)


def batch_response(ok: list[str], failed: list[str], sender_fault: bool = False) -> dict[str, Any]:
    return {
        "Successful": [{"Id": i, "MessageId": f"id-{i}", "MD5OfMessageBody": "0" * 32} for i in ok],
        "Failed": [{"Id": i, "SenderFault": sender_fault, "Code": "InternalError"} for i in failed],
    }


def entries(count: int) -> list[Any]:
    return app.make_entries([f'{{"processing_seconds": {i}}}' for i in range(count)], False, 1)


def test_partial_batch_failure_is_retried_with_only_the_failed_entries():
    sqs = boto3.client("sqs", region_name=REGION)
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/work"
    sent_batch = entries(10)
    sleeps: list[float] = []
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            batch_response([f"m{i}" for i in range(8)], ["m8", "m9"]),
            {"QueueUrl": url, "Entries": sent_batch},
        )
        stub.add_response(
            "send_message_batch",
            batch_response(["m8", "m9"], []),
            {"QueueUrl": url, "Entries": sent_batch[8:]},
        )
        assert SqsQueue(url, sqs, sleep=sleeps.append).send(sent_batch) == 10
        stub.assert_no_pending_responses()
    assert len(sleeps) == 1


def test_partial_batch_failure_that_persists_fails_the_invocation(monkeypatch, context, caplog):
    url = make_queue()
    set_env(monkeypatch, url)
    sqs = boto3.client("sqs", region_name=REGION)
    with Stubber(sqs) as stub:
        stub.add_response("send_message_batch", batch_response([f"m{i}" for i in range(9)], ["m9"]))
        for _ in range(2):
            stub.add_response(
                "send_message_batch", batch_response([], ["m9"]), {"QueueUrl": url, "Entries": ANY}
            )
        monkeypatch.setattr(app, "SqsQueue", lambda queue_url: SqsQueue(queue_url, sqs, sleep=lambda _: None))
        with pytest.raises(PartialFailureError, match="1 of 10 messages still failed after 3 attempts"):
            app.lambda_handler({"count": 10}, context)
        stub.assert_no_pending_responses()
    [record] = error_records(caplog)
    assert record.step == "send messages"  # type: ignore[attr-defined]


def test_sender_fault_is_not_retried():
    sqs = boto3.client("sqs", region_name=REGION)
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/work"
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch", batch_response([f"m{i}" for i in range(9)], ["m9"], sender_fault=True)
        )
        with pytest.raises(PartialFailureError, match="sender faults"):
            SqsQueue(url, sqs, sleep=lambda _: None).send(entries(10))
        stub.assert_no_pending_responses()


def test_large_count_is_sent_ten_per_call():
    url = make_queue()
    sqs = boto3.client("sqs", region_name=REGION)
    calls: list[int] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: calls.append(len(params["Entries"]))
    )
    settings = ProducerSettings.model_validate({"QUEUE_URL": url})

    result = app.produce(settings, ProducerEvent(count=95), SqsQueue(url, sqs), random.Random(7))

    assert result["sent"] == 95
    assert calls == [10] * 9 + [5]
    assert len(drain(url)) == 95
