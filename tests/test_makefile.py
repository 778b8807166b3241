"""`make test` checks for a C compiler and the Python headers first (issue 20, item 6).

The tests exercise the scanner's C passes (tests/scan/test_native.py fails where they were not
built), so a machine without a compiler must hear so at once, with the install line, not from a
failing test after the whole run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def check_compiler(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "check-compiler", f"PYTHON={sys.executable}"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_a_compiler_make_says_how_to_install_one() -> None:
    done = check_compiler(CC="/bin/false")
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert "C compiler" in message
    assert "apt-get install gcc python3-dev" in message
    assert "xcode-select --install" in message


def test_the_test_targets_check_for_the_compiler_first() -> None:
    dry = subprocess.run(
        ["make", "-n", "test", f"PYTHON={sys.executable}", "CC=/bin/false"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "make test needs a C compiler" in dry.stdout, dry.stdout[-2000:]
    assert dry.stdout.index("make test needs a C compiler") < dry.stdout.index("pytest")


@pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="no cc")
def test_with_a_compiler_the_check_passes_quietly() -> None:
    done = check_compiler()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
