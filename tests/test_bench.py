"""Every benchmark script runs in its quick mode (issue 20, item 9: `make bench` broke unseen).

Quick mode (``IVSECRETS_BENCH_QUICK=1`` or ``--quick``) runs each script with tiny iteration
counts and sizes: the figures mean nothing and timing targets are not enforced, but the script
imports, starts its servers, measures and prints its table. A peer library that is not installed
(the ``bench`` extra) is skipped with a line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"

#: A line of each script's table (its header): proof that the table was printed.
TABLES = {
    "fleet.py": "max fleet steady",
    "hot_path.py": "ns/call",
    "peers.py": "warm user_hash ns",
    "scan.py": "| scanner | wall s |",
    "verify_speed.py": "six environments on moto",
}


def test_every_bench_script_is_run_here() -> None:
    scripts = {p.name for p in BENCH.glob("[!_]*.py")}
    assert scripts == set(TABLES), "a bench script without a quick-mode run in this test"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", sorted(TABLES))
def test_bench_script_runs_in_quick_mode(script: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVSECRETS_", "AWS_"))}
    env["IVSECRETS_BENCH_QUICK"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, str(BENCH / script)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert TABLES[script] in done.stdout, output[-3000:]
    assert "quick mode" in done.stdout, "quick mode not announced (figures are not meaningful)"
    for line in EXTRA.get(script, ()):
        assert line in done.stdout, output[-3000:]


#: More that a script's output must hold. fleet.py (issue 21, item 1): both readings of AWS's
#: quotas, the combined headline, and the rotation spike as a row of its own.
EXTRA = {
    "fleet.py": (
        " Describe+Get ",
        "describe-then-get: spike",
        "combined reading (DescribeSecret + GetSecretValue 10,000/s, the headline)",
        "separate reading (GetSecretValue 10,000/s, DescribeSecret 40,000/s)",
        "rotation spike (every secret rotated at once",
        "refresh period: 0.760 x ttl",
    ),
}
