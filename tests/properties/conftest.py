"""Hypothesis for the property tests: derandomized (the same examples on every run and machine, so
CI is reproducible), no example database written into the repository, and no per-example deadline
(a deadline is a timing threshold, flaky on a loaded machine: the work is bounded by construction
instead, see each strategy)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "qas",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("qas")
