"""`pip install ivsecrets` with no extras, in a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return venv


@pytest.mark.timeout(400)
def test_no_extras_serves_env_and_names_the_extra_for_aws(bare_venv: Path, tmp_path: Path) -> None:
    python = str(bare_venv / "bin" / "python")
    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util as u; print([m for m in "
            "('boto3', 'hvac', 'google.cloud.secretmanager') if u.find_spec(m.split('.')[0])])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]", "the bare install pulled in a cloud SDK"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVSECRETS_", "AWS_"))}
    env["IVSECRETS_IOS_PROD"] = "bar"
    exe = str(bare_venv / "bin" / "ivsecrets")
    hashed = subprocess.run(
        [exe, "hash", "ios", "prod", "--user-id", "baz"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert hashed.stdout.strip() == (
        "c8acc43edc084edb8207a50320ba4ec5d113686cf8050274a305480c98512e45"
    ), hashed.stderr
    (tmp_path / "ivsecrets.toml").write_text('store = "aws"\n[stores.aws]\nregion = "eu-west-1"\n')
    result = subprocess.run([exe, "verify"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pip install 'ivsecrets[aws]'" in result.stderr


@pytest.mark.timeout(400)
def test_pip_install_compiles_the_scans_c_passes(bare_venv: Path) -> None:
    # A wheel built from this repository holds the compiled _runs extension (and its stub).
    python = str(bare_venv / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "from ivsecrets.scan import engine; print(engine.RUN_FINDER)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "c"
