"""Properties of `qas plan`'s inputs and outputs, and of every numeric flag's parser: any text either
is refused naming the flag or becomes a finite number; a steady load is refused up front exactly when
its average needs more instances than the fleet may have; a plan of any small accepted workload
prints finite numbers, a positive cost ratio for positive work, and parameters the template takes.

The planning property keeps its work bounded by construction: a few messages within a day."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qas import cli
from qas.model.control_plane import Platform
from qas.plan.cli import as_dict
from qas.plan.recommend import (
    MAX_CAPACITY_CEILING,
    MAX_CONCURRENCY,
    MIN_SLO_S,
    PlanRequest,
    check_steady_load,
    plan,
)
from qas.sim.traces import MAX_PROCESSING_S, Trace


def _numeric_actions() -> list[tuple[str, str, argparse.Action]]:
    """(command, flag, action) of every flag of simulate, bench, trace and plan that parses a number."""
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for command in ("simulate", "bench", "trace", "plan"):
        for action in sub.choices[command]._actions:
            if action.option_strings and action.type is not None and action.type is not str:
                found.append((command, action.option_strings[0], action))
    return found


NUMERIC = _numeric_actions()
_TEXT = st.one_of(
    st.floats().map(repr),
    st.floats().map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["inf", "-inf", "nan", "1e999", "-0", "1_0", " 5 ", "0x10", "", "ten", "2,x"]),
    st.text(max_size=8),
)


def test_every_numeric_flag_is_covered() -> None:
    flags = {flag for _, flag, _ in NUMERIC}
    assert {"--slo-seconds", "--rate-per-minute", "--price-per-hour", "--scale", "--boot-jitter"} <= flags
    assert len(NUMERIC) >= 30


@settings(max_examples=300)
@given(index=st.integers(min_value=0, max_value=len(NUMERIC) - 1), text=_TEXT)
def test_a_flag_refuses_or_returns_finite_numbers(index: int, text: str) -> None:
    _command, _flag, action = NUMERIC[index]
    assert callable(action.type)
    try:
        value = action.type(text)
    except argparse.ArgumentTypeError as exc:
        assert str(exc)  # argparse prints it after "argument --flag: "
        return
    except ValueError:
        assert action.type is int  # plain int flags (--seed): argparse says "invalid int value"
        return
    numbers = value if isinstance(value, tuple | list) else (value,)
    assert all(isinstance(n, int) or math.isfinite(n) for n in numbers), (text, value)
    if action.choices is not None:
        assert value in action.choices or action.type is int


@given(
    rate=st.floats(min_value=1e-3, max_value=1e7),
    duration=st.floats(min_value=1e-3, max_value=MAX_PROCESSING_S),
    concurrency=st.integers(min_value=1, max_value=MAX_CONCURRENCY),
    limit=st.one_of(st.none(), st.integers(min_value=1, max_value=MAX_CAPACITY_CEILING)),
)
def test_a_steady_load_is_refused_exactly_when_its_average_is_past_the_ceiling(
    rate: float, duration: float, concurrency: int, limit: int | None
) -> None:
    request = PlanRequest(slo_s=300, boot_s=60, concurrency=concurrency, max_capacity_limit=limit)
    instances = rate / 60 * duration / concurrency
    if instances <= request.ceiling:
        check_steady_load(rate, duration, request)
        return
    with pytest.raises(ValueError, match=f"instances at --concurrency {concurrency}, past "):
        check_steady_load(rate, duration, request)


# Six hours at most, jobs of up to two hours: each plan is about a dozen short simulations.
_MESSAGES = st.lists(
    st.tuples(st.floats(min_value=0, max_value=6 * 3600), st.floats(min_value=0, max_value=2 * 3600)),
    min_size=1,
    max_size=6,
)


@st.composite
def _requests(draw: st.DrawFn) -> PlanRequest:
    return PlanRequest(
        slo_s=draw(st.floats(min_value=MIN_SLO_S, max_value=6 * 3600)),
        boot_s=draw(st.floats(min_value=0, max_value=900)),
        concurrency=draw(st.integers(min_value=1, max_value=MAX_CONCURRENCY)),
        platform=draw(st.sampled_from(list(Platform))),
        max_capacity_limit=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=50))),
        realism=draw(st.sampled_from(["ideal", "aws"])),
    )


@settings(max_examples=20)
@given(
    messages=_MESSAGES,
    ask=_requests(),
    price=st.one_of(st.none(), st.floats(min_value=1e-4, max_value=1000)),
)
def test_any_small_plan_prints_finite_sane_numbers(
    messages: list[tuple[float, float]], ask: PlanRequest, price: float | None
) -> None:
    trace = Trace.from_rows(messages)
    if sum(trace.processing_s) == 0:
        with pytest.raises(ValueError, match="there is no work to plan for"):
            plan(trace, ask)
        return
    found = plan(trace, ask)
    data = as_dict(found, price)

    def finite(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                finite(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                finite(value, f"{where}[{i}]")
        elif isinstance(node, float):
            assert math.isfinite(node), where

    finite(data, "plan")
    predicted = data["predicted"]
    if sum(trace.processing_s) / ask.concurrency >= 1:  # a second of work at least: not rounded away
        assert predicted["cost_ratio"] > 0, predicted
    assert 1 <= data["max_capacity"] <= ask.ceiling
    assert data["initial_target"] >= 1
    for cost in data["monthly_cost_usd"].values():
        assert cost["autoscaled"] >= 0 and cost["always_on_at_peak"] >= 0
    overrides = found.parameter_overrides
    assert float(overrides["LatencySloSeconds"]) >= MIN_SLO_S
    assert 1 <= int(overrides["MaxCapacity"]) <= MAX_CAPACITY_CEILING
    assert 1 <= int(overrides["WorkerConcurrency"]) <= MAX_CONCURRENCY
    assert math.isfinite(float(overrides["CapacityLeadSeconds"]))
