"""``ivsecrets.served``: what a process signs with, per environment, without a value."""

from __future__ import annotations

import json

import pytest

from ivsecrets import Secrets
from ivsecrets.config import parse_config
from ivsecrets.errors import StoreError
from ivsecrets.secret import fingerprint
from ivsecrets.served import SCHEMA, STATES, served
from ivsecrets.testing import SECRET_A, SECRET_B, FakeClock, MemoryStore

CONFIG = """
store = "mem"
reference = "{platform}-{workspace}"
platforms = ["web"]
workspaces = ["test", "prod"]
[stores.mem]
plugin = "env"   # replaced by the injected MemoryStore
[stores.mem.cache]
ttl = 60
max_stale = 600
"""


def secrets_on(store: MemoryStore, clock: FakeClock) -> Secrets:
    return Secrets(parse_config(CONFIG, "test.toml"), providers={"mem": store}, clock=clock)


def rows(document: dict[str, object]) -> dict[str, dict[str, object]]:
    environments = document["environments"]
    assert isinstance(environments, list)
    return {row["environment"]: row for row in environments}


def test_each_state_in_turn_with_fingerprints_and_never_a_value() -> None:
    clock = FakeClock()
    store = MemoryStore({"web-test": SECRET_A, "web-prod": SECRET_B})
    secrets = secrets_on(store, clock)
    try:
        assert {row["state"] for row in rows(served(secrets)).values()} == {"cold"}
        secrets.hasher("web", "prod").user_hash(user_id="1")
        clock.advance(5)
        document = served(secrets)
        prod = rows(document)["web/prod"]
        assert prod["state"] == "fresh"
        assert prod["fingerprint"] == fingerprint(SECRET_B)
        assert prod["age_seconds"] == 5
        store.down = True
        clock.advance(90)  # past ttl: served stale while the store fails
        assert rows(served(secrets))["web/prod"]["state"] == "stale"
        clock.advance(700)  # past max_stale
        assert rows(served(secrets))["web/prod"]["state"] == "expired"
    finally:
        secrets.close()
    assert document["schema"] == SCHEMA
    assert all(row["state"] in STATES for row in rows(document).values())
    text = json.dumps(document)
    assert SECRET_A not in text and SECRET_B not in text


def test_a_failed_first_load_is_failed_not_cold() -> None:
    store = MemoryStore({"web-test": SECRET_A, "web-prod": SECRET_B})
    store.down = True
    secrets = secrets_on(store, FakeClock())
    try:
        with pytest.raises(StoreError):
            secrets.hasher("web", "test").user_hash(user_id="1")
        assert rows(served(secrets))["web/test"]["state"] == "failed"
        assert rows(served(secrets))["web/test"]["fingerprint"] is None
    finally:
        secrets.close()
