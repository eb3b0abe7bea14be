"""Load-test messages: the distributions, the malformed share and the producer's event."""

from __future__ import annotations

import json
import random
import statistics

import pytest

from queue_autoscaler.producer.app import make_entries
from queue_autoscaler.producer.messages import Fixed, LogNormal, Uniform, build_bodies
from queue_autoscaler.producer.settings import InvalidEventError, parse_event


def seconds(bodies: list[str]) -> list[float]:
    return [json.loads(b)["processing_seconds"] for b in bodies]


def test_fixed_bodies_follow_the_contract():
    bodies, malformed = build_bodies(
        3, Fixed(kind="fixed", seconds=12.5), 0.0, random.Random(1), 1700000000.1234
    )

    assert malformed == 0
    for body in bodies:
        message = json.loads(body)
        assert set(message) == {"job_id", "processing_seconds", "produced_at"}
        assert message["processing_seconds"] == 12.5
        assert message["produced_at"] == 1700000000.123


def test_uniform_stays_in_its_bounds_and_covers_them():
    drawn = seconds(
        build_bodies(2000, Uniform(kind="uniform", low_seconds=5, high_seconds=15), 0, random.Random(2), 0)[0]
    )

    assert min(drawn) >= 5
    assert max(drawn) <= 15
    assert min(drawn) < 5.5 and max(drawn) > 14.5


def test_lognormal_mean_is_the_mean_of_the_distribution_not_of_its_log():
    drawn = seconds(
        build_bodies(20_000, LogNormal(kind="lognormal", mean_seconds=20, sigma=0.5), 0, random.Random(3), 0)[
            0
        ]
    )

    assert statistics.fmean(drawn) == pytest.approx(20, rel=0.03)
    # The median of a lognormal is exp(mu) = mean * exp(-sigma^2 / 2) = 17.65 s
    assert statistics.median(drawn) == pytest.approx(20 * 2.718281828 ** (-0.125), rel=0.03)


def test_same_seed_same_durations():
    dist = LogNormal(kind="lognormal", mean_seconds=20, sigma=0.5)

    assert seconds(build_bodies(20, dist, 0, random.Random(9), 0)[0]) == seconds(
        build_bodies(20, dist, 0, random.Random(9), 0)[0]
    )


def test_malformed_share_is_exact_and_every_malformed_body_breaks_the_contract():
    bodies, malformed = build_bodies(40, Fixed(kind="fixed", seconds=1), 0.3, random.Random(4), 0)

    assert malformed == 12
    broken = []
    for body in bodies:
        try:
            json.loads(body)["processing_seconds"]
        except (ValueError, KeyError):
            broken.append(body)
    assert len(broken) == 12
    assert any(b.startswith("not json") for b in broken)
    assert any(b.startswith("{") for b in broken)


def test_fifo_entries_have_groups_and_unique_deduplication_ids():
    entries = make_entries(["{}"] * 30, fifo=True, message_groups=3)

    assert [e["Id"] for e in entries] == [f"m{i}" for i in range(30)]
    assert {e["MessageGroupId"] for e in entries} == {"group-0", "group-1", "group-2"}
    assert len({e["MessageDeduplicationId"] for e in entries}) == 30


def test_standard_entries_have_no_fifo_fields():
    [entry] = make_entries(["{}"], fifo=False, message_groups=3)

    assert set(entry) == {"Id", "MessageBody"}


def test_rule_input_is_the_event():
    request = parse_event({"count": 5, "distribution": {"kind": "fixed", "seconds": 2}})

    assert request.count == 5
    assert request.distribution == Fixed(kind="fixed", seconds=2)
    assert request.malformed_ratio is None


def test_scheduled_event_without_input_uses_every_default():
    request = parse_event(
        {
            "version": "0",
            "id": "x",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        }
    )

    assert (request.count, request.distribution, request.malformed_ratio) == (None, None, None)


def test_bad_event_names_the_key():
    with pytest.raises(InvalidEventError, match=r"distribution\.uniform\.high_seconds"):
        parse_event({"distribution": {"kind": "uniform", "low_seconds": 1}})
