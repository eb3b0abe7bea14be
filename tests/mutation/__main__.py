"""``python -m tests.mutation [--fail-under PERCENT]``: the score of the last `mutmut run`."""

from __future__ import annotations

import sys

from tests.mutation import main

if __name__ == "__main__":
    sys.exit(main())
