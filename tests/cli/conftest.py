"""A CliRunner fixture and six known test secrets in the environment (the embedded default)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivsecrets.cli import cli
from tests.cli.schemas import check_output
from tests.conftest import KNOWN_SECRETS

# Distinct, Intercom-shaped values; tests scan every output for them.
SECRETS = {
    "WEB_TEST": "ivsT_web0Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9",
    "IOS_TEST": "ivsT_ios0Kj8Wq1Ne4Lr7Tx2Vc5Hb9Md3Pf6Gs0Yu2Ao",
    "ANDROID_TEST": "ivsT_and0Pl4Mn7Bv1Cx8Za5Sd2Fg9Hj3Kl6Qw0Er2T",
    "WEB_PROD": "ivsP_web0Rt3Yu6Io9Pa2Sd5Fg8Hj1Kl4Zx7Cv0Bn3Mq",
    "IOS_PROD": "ivsP_ios0Wq2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz9Xc2Vb",
    "ANDROID_PROD": "ivsP_and0Mn1Bv4Cx7Za0Sd3Fg6Hj9Kl2Qw5Er8Ty1U",
}

KNOWN_SECRETS.update(SECRETS.values())


@dataclass
class Cli:
    runner: CliRunner
    workdir: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Run ``ivsecrets ARGS``; a JSON document it prints is checked against its schema."""
        result = self.runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        check_output(args, result.stdout)
        return result

    def write_config(self, text: str, name: str = "ivsecrets.toml") -> Path:
        path = self.workdir / name
        path.write_text(text)
        return path


@pytest.fixture
def six_env_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(f"IVSECRETS_{name}", value)
    return SECRETS


@pytest.fixture(autouse=True)
def _restore_log_levels() -> Iterator[None]:
    """The CLI sets the `ivsecrets` logger's level (-v, -q): later tests must not inherit it."""
    logger = logging.getLogger("ivsecrets")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, six_env_secrets: dict[str, str]
) -> Callable[..., Result]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    for var in list(__import__("os").environ):
        if var.startswith("IVSECRETS_INTERCOM_TOKEN"):
            monkeypatch.delenv(var)
    return Cli(CliRunner(), tmp_path)
