"""The mutation score of the pure core: what `make mutation` prints after `mutmut run`.

Reads mutmut's results (``mutants/**/*.meta``), takes out the mutants listed in ``equivalent.txt``
(each changes no behaviour, so no test can kill it: the list says why, one line each), and prints
per module and in total: killed / (mutants - equivalent). "No tests" (no unit test runs the
function) counts as surviving. Runs in .venv-mutation, where mutmut is installed.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

EQUIVALENT = Path(__file__).with_name("equivalent.txt")
# What mutmut mutates: pyproject.toml's [tool.mutmut] source_paths (one definition).
SOURCES = tuple(
    Path(path) for path in tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]["source_paths"]
)
SEPARATOR = " :: "


@dataclass(frozen=True)
class Equivalent:
    """A mutant that cannot change behaviour: its function, the line as mutated, and why."""

    function: str
    line: str
    why: str


def read_equivalents(path: Path = EQUIVALENT) -> list[Equivalent]:
    entries = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(SEPARATOR)
        if len(parts) != 3 or not all(part.strip() for part in parts):
            raise SystemExit(f"{path}:{number}: expected 'function :: mutated line :: why', got {raw!r}")
        entries.append(Equivalent(*(part.strip() for part in parts)))
    return entries


def function_of(mutant: str) -> str:
    """``queue_autoscaler.scaling.x.xǁClassǁmethod__mutmut_3`` ->
    ``queue_autoscaler.scaling.x.Class.method``."""
    name = mutant.rpartition("__mutmut_")[0]
    module, _, function = name.rpartition(".")
    return f"{module}.{function.removeprefix('x').removeprefix('_').replace('ǁ', '.').strip('.')}"


def mutated_lines(mutant: str, path: Path) -> list[str]:
    """The lines the mutant changed, as they read after the mutation (stripped)."""
    diff = get_diff_for_mutant(mutant, path=path).splitlines()
    return [line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")]


def _module_label(path: Path) -> str:
    """``src/queue_autoscaler/scaling/target.py`` -> ``target``; ``qas/model/platforms/ecs.py`` ->
    ``model.platforms.ecs`` (the pure core's modules by their short names, the model's by path)."""
    for source in SOURCES:
        if path.is_relative_to(source):
            parts = path.relative_to(source).with_suffix("").parts
            prefix = () if source.name == "scaling" else (source.name,)
            return ".".join((*prefix, *parts))
    return path.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 below this score (percent)")
    parser.add_argument("--quiet", action="store_true", help="no list of the surviving mutants")
    args = parser.parse_args(argv)

    equivalents = read_equivalents()
    matched: set[Equivalent] = set()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[tuple[str, str]] = []
    for path in sorted(path for source in SOURCES for path in source.rglob("*.py")):
        data = SourceFileMutationData(path=path)
        data.load()
        for mutant, exit_code in sorted(data.exit_code_by_key.items()):
            module = _module_label(path)
            status = status_by_exit_code[exit_code]
            if status in ("survived", "no tests"):
                function, lines = function_of(mutant), mutated_lines(mutant, path)
                hit = next((e for e in equivalents if e.function == function and e.line in lines), None)
                if hit is not None:
                    matched.add(hit)
                    status = "equivalent"
                else:
                    changed = " / ".join(lines) or "(line removed)"
                    survivors.append((mutant, f"{status}: {function}: {changed}"))
            counts[module][status] += 1
    if not counts:
        print("no mutmut results under mutants/: run `mutmut run` first", file=sys.stderr)
        return 2

    def score(c: Counter[str]) -> float:
        considered = sum(c.values()) - c["equivalent"]
        return 100.0 * (c["killed"] + c["timeout"]) / considered if considered else 100.0

    def row(name: str, c: Counter[str]) -> str:
        killed = c["killed"] + c["timeout"]
        return (
            f"{name:<24}{sum(c.values()):>8}{c['equivalent']:>8}{killed:>8}"
            f"{c['survived']:>9}{c['no tests']:>9}{score(c):>7.1f}%"
        )

    print(f"{'module':<24}{'mutants':>8}{'equiv.':>8}{'killed':>8}{'survived':>9}{'no tests':>9}{'score':>8}")
    total: Counter[str] = Counter()
    for module, c in sorted(counts.items()):
        total.update(c)
        print(row(module, c))
    print(row("total", total))
    other = set(total) - {"killed", "timeout", "survived", "no tests", "equivalent"}
    if other:
        print(f"also: {', '.join(f'{total[s]} {s}' for s in sorted(other))} (counted as surviving)")
    if not args.quiet and survivors:
        print("\nsurviving mutants (`.venv-mutation/bin/mutmut show NAME` for the diff):")
        for mutant, description in survivors:
            print(f"  {mutant}\n      {description}")
    for stale in sorted(set(equivalents) - matched, key=lambda e: e.function):
        print(f"warning: {EQUIVALENT.name}: no surviving mutant of {stale.function} reads {stale.line!r}")
    final = score(total)
    print(f"\nmutation score over the pure core: {final:.1f}% of {sum(total.values()) - total['equivalent']}")
    return 1 if final < args.fail_under else 0
