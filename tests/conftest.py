"""Shared fixtures. Store servers live in tests/servers/ and are registered as plugins here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ivsecrets

# Each module in tests/servers/ starts one real store server (moto, OpenBao, the in-process GCP
# gRPC server, the Intercom API fake) and exposes it as fixtures to every test.
pytest_plugins = [
    f"tests.servers.{path.stem}"
    for path in sorted((Path(__file__).parent / "servers").glob("[!_]*.py"))
]


@pytest.fixture(autouse=True)
def _fresh_default() -> Iterator[None]:
    """Every test starts and ends without a default ``Secrets`` (no leaked threads or state)."""
    ivsecrets.configure(None)
    yield
    ivsecrets.configure(None)
