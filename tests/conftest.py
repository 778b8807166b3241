"""Shared fixtures. Store servers live in tests/servers/ and are registered as plugins here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ivsecrets


@pytest.fixture(autouse=True)
def _fresh_default() -> Iterator[None]:
    """Every test starts and ends without a default ``Secrets`` (no leaked threads or state)."""
    ivsecrets.configure(None)
    yield
    ivsecrets.configure(None)
