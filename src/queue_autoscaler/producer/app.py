"""Producer: sends load-test messages to the work queue, 10 per SendMessageBatch call.

AWS calls: sqs:SendMessage (as SendMessageBatch).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from queue_autoscaler.adapters.failures import fail_loudly
from queue_autoscaler.adapters.queue import SqsQueue
from queue_autoscaler.common.observability import logger, metrics, tracer, use_namespace
from queue_autoscaler.common.settings import load_settings
from queue_autoscaler.producer.messages import build_bodies
from queue_autoscaler.producer.settings import InvalidEventError, ProducerEvent, ProducerSettings, parse_event

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

# Module level so that draws differ between warm invocations; tests pass their own seeded Random.
_RNG = random.Random()


@cache
def get_settings() -> ProducerSettings:
    return load_settings(ProducerSettings)


def make_entries(
    bodies: list[str], fifo: bool, message_groups: int
) -> list[SendMessageBatchRequestEntryTypeDef]:
    """Batch entries; on FIFO queues spread over message groups with a unique deduplication id.

    The deduplication id is a uuid4: a small random number would collide within SQS's 5-minute
    deduplication window and FIFO would silently drop the duplicates.
    """
    entries: list[SendMessageBatchRequestEntryTypeDef] = []
    for index, body in enumerate(bodies):
        entry: SendMessageBatchRequestEntryTypeDef = {"Id": f"m{index}", "MessageBody": body}
        if fifo:
            entry["MessageGroupId"] = f"group-{index % message_groups}"
            entry["MessageDeduplicationId"] = uuid.uuid4().hex
        entries.append(entry)
    return entries


def produce(
    settings: ProducerSettings, request: ProducerEvent, queue: SqsQueue, rng: random.Random
) -> dict[str, Any]:
    count = settings.message_count if request.count is None else request.count
    distribution = request.distribution or settings.distribution
    ratio = settings.malformed_ratio if request.malformed_ratio is None else request.malformed_ratio
    bodies, malformed = build_bodies(count, distribution, ratio, rng, time.time())
    with fail_loudly("send messages"):
        sent = queue.send(make_entries(bodies, queue.is_fifo, settings.message_groups))
    metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=sent)
    metrics.add_metric(name="MalformedMessagesSent", unit=MetricUnit.Count, value=malformed)
    logger.info(
        "messages sent",
        extra={
            "sent": sent,
            "malformed": malformed,
            "distribution": distribution.model_dump(),
            "fifo": queue.is_fifo,
        },
    )
    return {"sent": sent, "malformed": malformed, "fifo": queue.is_fifo, "distribution": distribution.kind}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    use_namespace(settings.namespace)
    try:
        request = parse_event(event)
    except InvalidEventError as err:
        logger.error("invalid event", extra={"error_message": str(err)})
        raise
    return produce(settings, request, SqsQueue(settings.queue_url), _RNG)


# Fail the cold start, not the first run, when the configuration is wrong.
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    get_settings()
