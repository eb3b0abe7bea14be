"""``python -m tests.sim.golden [--write]``: print the current results, or rewrite the golden file."""

from __future__ import annotations

import argparse
import sys

from tests.sim.golden import GOLDEN, render, summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim.golden", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"rewrite {GOLDEN.name} (else print)")
    args = parser.parse_args(argv)
    text = render(summaries())
    if args.write:
        GOLDEN.write_text(text)
        print(f"wrote {GOLDEN}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
