"""Shared fixtures. Store servers live in tests/servers/ and are registered as plugins here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ivsecrets
import ivsecrets.config
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C
from ivsecrets.testing.logs import recorded_log_lines

#: Every secret value the tests use; nothing a test run logs may contain one of them.
KNOWN_SECRETS: set[str] = {SECRET_A, SECRET_B, SECRET_C}

# Each module in tests/servers/ starts one real store server (moto, OpenBao, the in-process GCP
# gRPC server, the Intercom API fake) and exposes it as fixtures to every test.
pytest_plugins = [
    f"tests.servers.{path.stem}"
    for path in sorted((Path(__file__).parent / "servers").glob("[!_]*.py"))
]


@pytest.fixture
def secrets_of() -> Iterator[Callable[..., ivsecrets.Secrets]]:
    """Build ``Secrets`` that are closed after the test (no refresher threads left behind)."""
    built: list[ivsecrets.Secrets] = []

    def build(config: ivsecrets.config.Config, **kwargs: Any) -> ivsecrets.Secrets:
        built.append(ivsecrets.Secrets(config, **kwargs))
        return built[-1]

    yield build
    for secrets in built:
        secrets.close()


@pytest.fixture(autouse=True)
def _fresh_default() -> Iterator[None]:
    """Every test starts and ends without a default ``Secrets`` (no leaked threads or state)."""
    ivsecrets.configure(None)
    yield
    ivsecrets.configure(None)


@pytest.fixture(autouse=True)
def _no_secret_in_logs() -> Iterator[None]:
    """Fail any test during which a known secret value reached a log record, at any level."""
    with recorded_log_lines() as lines:
        yield
    leaked = [line for line in lines for s in KNOWN_SECRETS if s in line]
    assert not leaked, f"a secret value was logged: {len(leaked)} record(s)"
