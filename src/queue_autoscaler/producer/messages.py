"""Load-test messages: processing times drawn from a distribution, plus malformed ones for DLQ tests.

Pure (no boto3): the producer Lambda sends these; tests and the simulator can draw the same.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Distribution(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fixed(_Distribution):
    kind: Literal["fixed"]
    seconds: float = Field(ge=0, allow_inf_nan=False)

    def draw(self, rng: random.Random) -> float:
        return self.seconds


class Uniform(_Distribution):
    kind: Literal["uniform"]
    low_seconds: float = Field(ge=0, allow_inf_nan=False)
    high_seconds: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high_seconds < self.low_seconds:
            raise ValueError("high_seconds must be >= low_seconds")
        return self

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low_seconds, self.high_seconds)


class LogNormal(_Distribution):
    """Parameterised by the mean of the distribution itself (not of its log) and the log's sigma."""

    kind: Literal["lognormal"]
    mean_seconds: float = Field(gt=0, allow_inf_nan=False)
    sigma: float = Field(ge=0, le=3, allow_inf_nan=False)

    def draw(self, rng: random.Random) -> float:
        # E[X] = exp(mu + sigma^2 / 2), so mu = ln(mean) - sigma^2 / 2 keeps the mean as given.
        mu = math.log(self.mean_seconds) - self.sigma**2 / 2
        return rng.lognormvariate(mu, self.sigma)


Distribution = Annotated[Fixed | Uniform | LogNormal, Field(discriminator="kind")]


def good_body(processing_seconds: float, produced_at: float) -> str:
    return json.dumps(
        {
            "job_id": str(uuid.uuid4()),
            "processing_seconds": round(processing_seconds, 3),
            "produced_at": round(produced_at, 3),
        }
    )


def malformed_body(index: int, produced_at: float) -> str:
    """Alternate the two kinds of poison a worker must send to the DLQ: not JSON, no duration."""
    if index % 2 == 0:
        return f"not json: load-test message {index}"
    return json.dumps({"job_id": str(uuid.uuid4()), "produced_at": round(produced_at, 3)})


def build_bodies(
    count: int,
    distribution: Fixed | Uniform | LogNormal,
    malformed_ratio: float,
    rng: random.Random,
    produced_at: float,
) -> tuple[list[str], int]:
    """`count` bodies, round(count * malformed_ratio) of them malformed at random positions.

    Returns the bodies and the number of malformed ones. An exact share (not a coin flip per
    message) lets a DLQ test know how many messages must end up there.
    """
    if count < 0 or not 0 <= malformed_ratio <= 1:
        raise ValueError("count must be >= 0 and malformed_ratio within [0, 1]")
    malformed = set(rng.sample(range(count), round(count * malformed_ratio)))
    bodies = [
        malformed_body(index, produced_at)
        if index in malformed
        else good_body(distribution.draw(rng), produced_at)
        for index in range(count)
    ]
    return bodies, len(malformed)
