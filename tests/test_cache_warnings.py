"""The stale-serving warning (issue 10, item 13): once per store, no negative time, one prefix."""

from __future__ import annotations

import logging
import re

import pytest

from ivsecrets import Secrets
from ivsecrets.cli.app import _Prefixed
from ivsecrets.config import parse_config
from ivsecrets.errors import StoreError
from ivsecrets.testing import SECRET_A, FakeClock, MemoryStore

CONFIG = """
store = "mem"
reference = "{platform}-{workspace}"
[stores.mem]
plugin = "env"   # replaced by the injected MemoryStore
[stores.mem.cache]
"""
SIX = {
    f"{p}-{w}": f"{SECRET_A[:-6]}{p[:3]}{w[:3]}"
    for p in ("web", "ios", "android")
    for w in ("test", "prod")
}


def warm_then_down(clock: FakeClock | None = None, **cache: float) -> tuple[Secrets, MemoryStore]:
    store = MemoryStore(SIX)
    settings = "".join(f"{name} = {value}\n" for name, value in cache.items())
    config = parse_config(CONFIG + settings, "test.toml")
    secrets = Secrets(config, providers={"mem": store}, clock=clock)
    secrets.hasher("web", "prod").user_hash(user_id="1")  # loads all six in one batch
    store.down = True
    return secrets, store


def refresh_warnings(secrets: Secrets, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ivsecrets"), pytest.raises(StoreError):
        secrets.caches["mem"].refresh()
    return [r for r in caplog.records if "refresh" in r.getMessage()]


def test_a_failed_refresh_warns_once_per_store(caplog: pytest.LogCaptureFixture) -> None:
    secrets, _ = warm_then_down(ttl=60, max_stale=600)
    try:
        records = refresh_warnings(secrets, caplog)
    finally:
        secrets.close()
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert "(store 'memory') failed: memory store unreachable" in message
    assert all(f"{p}/{w}" in message for p in ("web", "ios") for w in ("test", "prod"))
    assert re.search(r"for at most (65\d|660) s more", message)


def test_after_max_stale_the_warning_says_nothing_is_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    secrets, _ = warm_then_down(clock, ttl=0.05, max_stale=0.1)
    clock.advance(0.3)  # past ttl + max_stale
    try:
        records = refresh_warnings(secrets, caplog)
    finally:
        secrets.close()
    message = records[0].getMessage()
    assert not re.search(r"-\d+ s", message), message
    assert "serving" not in message
    assert "max_stale (0.1 s) has run out: no stale secret is served any more" in message


def test_the_prefix_appears_once(caplog: pytest.LogCaptureFixture) -> None:
    secrets, _ = warm_then_down(ttl=60, max_stale=600)
    try:
        record = refresh_warnings(secrets, caplog)[0]
    finally:
        secrets.close()
    # The logger's name is the prefix: in an application's "%(name)s: %(message)s" format...
    shown = logging.Formatter("%(name)s: %(message)s").format(record)
    assert shown.startswith("ivsecrets: refreshing the secrets of ")
    assert shown.count("ivsecrets:") == 1
    # ... and in the CLI's, which adds the name unless a message already starts with it.
    assert _Prefixed("%(message)s").format(record) == shown
