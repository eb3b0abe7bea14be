"""The sample events in events/ are what each handler's model accepts."""

from __future__ import annotations

import json
from pathlib import Path

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from queue_autoscaler.producer.settings import parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_scheduled_events_are_eventbridge_scheduled_events():
    for name in ("metric_publisher", "target_tuner"):
        event = EventBridgeModel.model_validate(json.loads((EVENTS / f"{name}.json").read_text()))
        assert event.detail_type == "Scheduled Event"
        assert event.source == "aws.events"


def test_producer_event_is_a_valid_rule_input():
    request = parse_event(json.loads((EVENTS / "producer.json").read_text()))

    assert request.count == 50
    assert request.distribution is not None
    assert request.distribution.kind == "lognormal"
    assert request.malformed_ratio == 0.0
