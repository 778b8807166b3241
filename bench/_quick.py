"""The benchmarks' quick mode: ``IVSECRETS_BENCH_QUICK=1`` or ``--quick`` (tests/test_bench.py).

Tiny iteration counts and sizes, so that every script runs in seconds in CI: it imports, starts
its servers, measures and prints its table. The figures mean nothing then, so timing targets are
printed but not enforced; correctness checks (store calls, findings) still are.
"""

from __future__ import annotations

import os
import sys

QUICK = os.environ.get("IVSECRETS_BENCH_QUICK", "") not in ("", "0") or "--quick" in sys.argv
if "--quick" in sys.argv:
    sys.argv.remove("--quick")


def announce() -> None:
    """Say so when in quick mode (the test checks it): the figures below are not measurements."""
    if QUICK:
        print("quick mode: tiny counts; figures mean nothing, timing targets not enforced")
