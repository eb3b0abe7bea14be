"""`--realism ideal` gives the results it gave when the golden file was written, line for line.

The golden file (tests/sim/golden/ideal_baselines.json) was first written from the engine that an
earlier test (test_ideal_is_the_old_engine.py, since removed) had proved equal, summary for summary,
to the engine of before the AWS effects; no git history is needed to check it.
"""

from __future__ import annotations

import difflib
import json

from tests.sim import golden


def test_ideal_results_match_the_golden_file() -> None:
    expected = golden.GOLDEN.read_text().splitlines(keepends=True)
    actual = golden.render(golden.summaries()).splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(expected, actual, "golden", "now", n=2))
    assert not diff, (
        f"the ideal simulator's results changed:\n{diff}\nIf the change is deliberate, rewrite the file "
        f"with `{golden.REGENERATE}` and commit it with the change."
    )


def test_the_golden_file_covers_every_baseline_on_every_case() -> None:
    cases = ("steady", "burst", "ecs", "slow")
    policies = ("static-8", "static-3", "aws-guidance", "keda-5", "always-on-max")
    pinned = json.loads(golden.GOLDEN.read_text())
    assert set(pinned) == {f"{case}/{policy}" for case in cases for policy in policies}
