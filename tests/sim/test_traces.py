"""Trace CSV files and generators."""

from __future__ import annotations

from pathlib import Path

import pytest

from qas.sim import traces


def test_csv_round_trip_sorts_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,processing_s\n5,1.5\n1,2\n\n3,0\n")
    trace = traces.read_csv(path)
    assert trace.arrival_s == (1.0, 3.0, 5.0)
    assert trace.processing_s == (2.0, 0.0, 1.5)
    traces.write_csv(trace, tmp_path / "out.csv")
    assert traces.read_csv(tmp_path / "out.csv") == trace


@pytest.mark.parametrize(
    "text",
    ["arrival,processing\n1,2\n", "arrival_s,processing_s\n1\n", "arrival_s,processing_s\n1,-2\n", ""],
)
def test_bad_files_are_rejected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError):
        traces.read_csv(path)


def test_generators_are_seeded_and_follow_their_rates() -> None:
    sampler = traces.lognormal(20, 0.5)
    steady = traces.steady(2.0, 3600, sampler, seed=1)
    assert steady == traces.steady(2.0, 3600, sampler, seed=1)
    assert 6800 < len(steady) < 7600  # Poisson(7200): well within 5 sigma
    mean = sum(steady.processing_s) / len(steady)
    assert 18 < mean < 22
    ramp = traces.ramp(0.0, 2.0, 3600, sampler, seed=2)
    first_half = sum(1 for a in ramp.arrival_s if a < 1800)
    assert first_half < len(ramp) - first_half
    burst = traces.burst(100, 60, 10, 600, sampler)
    assert len(burst) == 100 and burst.arrival_s[0] >= 60 and burst.arrival_s[-1] < 70
    day = traces.diurnal(1.0, 0.8, 86_400, sampler, seed=4)
    night = sum(1 for a in day.arrival_s if a < 3 * 3600)
    noon = sum(1 for a in day.arrival_s if 10.5 * 3600 <= a < 13.5 * 3600)
    assert noon > 3 * night
