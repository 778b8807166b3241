"""`make demo`: the main job on the embedded default, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ivsecrets.config import load_config
from ivsecrets.demo import _example_secret


def test_demo_serves_six_example_secrets_and_verifies(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVSECRETS_")}
    result = subprocess.run(
        [sys.executable, "-m", "ivsecrets.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 example secrets put in the environment" in result.stdout
    assert "store calls: 1 for 6 environments" in result.stdout
    assert "verified (6 of 6 environments ok)" in result.stdout
    for environment in load_config().environments:
        assert _example_secret(environment) not in result.stdout + result.stderr
