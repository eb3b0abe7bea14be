"""Settings of the producer and its event (the EventBridge rule's Input)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError, model_validator

from queue_autoscaler.common.regions import require_region
from queue_autoscaler.common.settings import NamespaceSettings
from queue_autoscaler.producer.messages import Distribution

MAX_COUNT = 100_000  # about what one invocation sends well inside a 15-minute timeout


class ProducerSettings(NamespaceSettings):
    queue_url: str = Field(alias="QUEUE_URL", min_length=1)
    message_count: int = Field(default=10, alias="PRODUCER_MESSAGE_COUNT", ge=0, le=MAX_COUNT)
    distribution: Json[Distribution] = Field(
        default='{"kind": "fixed", "seconds": 10}', alias="PRODUCER_DISTRIBUTION", validate_default=True
    )
    malformed_ratio: float = Field(default=0.0, alias="PRODUCER_MALFORMED_RATIO", ge=0, le=1)
    message_groups: int = Field(default=10, alias="PRODUCER_MESSAGE_GROUPS", ge=1)

    @model_validator(mode="after")
    def _queue_in_the_stack_region(self) -> ProducerSettings:
        require_region("QUEUE_URL", self.queue_url, self.region)
        return self


class ProducerEvent(BaseModel):
    """Every key optional; what is missing comes from the settings. Unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    distribution: Distribution | None = None
    malformed_ratio: float | None = Field(default=None, ge=0, le=1)


class InvalidEventError(ValueError):
    """The event is not a producer request; the message says which key is wrong."""


def parse_event(event: Any) -> ProducerEvent:
    """The rule's Input arrives as the event itself; a plain scheduled event uses its `detail`."""
    try:
        if isinstance(event, dict) and "detail-type" in event:
            event = EventBridgeModel.model_validate(event).detail
        return ProducerEvent.model_validate(event if event is not None else {})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'event'}: {e['msg']}" for e in err.errors()
        )
        raise InvalidEventError(f"invalid producer event: {problems}") from None
