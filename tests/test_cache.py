"""The cache: single flight, batch loading, refresh ahead, stale on error, fail closed, fork."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ivsecrets import Secrets, StaleSecretError, user_hash
from ivsecrets.cache import CacheEvent
from ivsecrets.config import parse_config
from ivsecrets.environments import Environment
from ivsecrets.testing import SECRET_A, SECRET_B, FakeClock, MemoryStore

CONFIG = """
store = "mem"
reference = "{platform}-{workspace}"
[stores.mem]
plugin = "env"   # replaced by the injected MemoryStore
"""

SIX = {
    f"{p}-{w}": f"{SECRET_A[:-6]}{p[:3]}{w[:3]}"
    for p in ("web", "ios", "android")
    for w in ("test", "prod")
}


def make(store: MemoryStore, clock: FakeClock | None = None, **cache: float) -> Secrets:
    settings = "".join(f"{name} = {value}\n" for name, value in cache.items())
    config = parse_config(CONFIG + "[stores.mem.cache]\n" + settings, "test.toml")
    events: list[CacheEvent] = []
    secrets = Secrets(config, providers={"mem": store}, on_event=events.append, clock=clock)
    secrets.events = events  # type: ignore[attr-defined]
    return secrets


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(SIX)


def test_64_threads_on_a_cold_cache_cause_one_fetch(store: MemoryStore) -> None:
    store.latency = 0.05
    secrets = make(store)
    barrier = threading.Barrier(64)
    results: list[str] = []
    envs = [(p, w) for p in ("web", "ios", "android") for w in ("test", "prod")]

    def worker(i: int) -> None:
        platform, workspace = envs[i % 6]
        barrier.wait()
        results.append(secrets.hasher(platform, workspace).user_hash(user_id="42"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secrets.close()
    assert len(results) == 64
    assert store.calls == 1, "all six cold environments load in one batched call"
    assert all(count == 1 for count in store.fetched.values())
    assert len(store.fetched) == 6
    assert set(results) == {user_hash(v, user_id="42") for v in SIX.values()}


def test_refresh_ahead_means_warm_readers_never_wait(store: MemoryStore) -> None:
    secrets = make(store, ttl=0.3, refresh_ahead=0.5, jitter=0.0)
    hasher = secrets.hasher("ios", "prod")
    hasher.user_hash(user_id="1")
    store.latency = 0.2  # a slow store: a reader that waited would notice
    store.values["ios-prod"] = SECRET_B
    deadline = time.monotonic() + 2
    slowest = 0.0
    while time.monotonic() < deadline and hasher.fingerprint != _fp(SECRET_B):
        started = time.perf_counter()
        hasher.user_hash(user_id="1")
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.005)
    secrets.close()
    assert hasher.fingerprint == _fp(SECRET_B), "the refresher picked up the new secret"
    assert slowest < 0.15, f"a reader waited {slowest:.3f}s on the store"
    assert any(e.kind == "rotated" for e in secrets.events)  # type: ignore[attr-defined]


def test_store_outage_serves_stale_until_max_stale_then_fails_closed_then_recovers(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    secrets = make(store, clock, ttl=0.1, max_stale=1.0, backoff_base=0.02, backoff_max=0.05)
    hasher = secrets.hasher("web", "prod")
    expected = hasher.user_hash(user_id="7")
    store.down = True
    clock.advance(0.2)  # past ttl: stale now
    assert hasher.user_hash(user_id="7") == expected
    assert secrets.stats()["mem"]["stale_served"] >= 1
    clock.advance(1.0)  # past ttl + max_stale
    with pytest.raises(StaleSecretError, match="max_stale") as info:
        hasher.user_hash(user_id="7")
    assert info.value.environment == Environment.of("web", "prod")
    assert "refreshing the secret" in caplog.text and "web/prod" in caplog.text
    assert SIX["web-prod"] not in caplog.text and SIX["web-prod"] not in str(info.value)
    store.down = False
    clock.advance(0.1)
    assert hasher.user_hash(user_id="7") == expected  # recovered, same process
    stats = secrets.stats()["mem"]
    secrets.close()
    assert stats["failures"] >= 1 and stats["expired"] >= 1
    kinds = {e.kind for e in secrets.events}  # type: ignore[attr-defined]
    assert {"fetch", "failure", "expired"} <= kinds


def test_cold_failure_is_raised_and_backs_off(store: MemoryStore) -> None:
    store.down = True
    clock = FakeClock()
    secrets = make(store, clock, backoff_base=0.2)
    with pytest.raises(Exception, match="unreachable"):
        secrets.hasher("web", "prod").user_hash(user_id="1")
    calls = store.calls
    with pytest.raises(Exception, match="unreachable"):
        secrets.hasher("web", "prod").user_hash(user_id="1")
    assert store.calls == calls, "a second cold reader inside the backoff does not call again"
    store.down = False
    clock.advance(0.25)  # past the back-off
    assert secrets.hasher("web", "prod").user_hash(user_id="1")
    secrets.close()


def test_refresh_forces_a_reload_and_verify_accepts_previous(store: MemoryStore) -> None:
    secrets = make(store)
    hasher = secrets.hasher("android", "test")
    old = hasher.user_hash(email="a@example.com")
    store.previous["android-test"] = SIX["android-test"]
    store.values["android-test"] = SECRET_B
    assert hasher.user_hash(email="a@example.com") == old  # cached
    secrets.refresh()
    new = hasher.user_hash(email="a@example.com")
    assert new == user_hash(SECRET_B, email="a@example.com")
    assert hasher.verify(new, email="a@example.com")
    assert hasher.verify(old, email="a@example.com"), "previous accepted during rotation"
    del store.previous["android-test"]
    secrets.refresh()
    assert not hasher.verify(old, email="a@example.com")
    secrets.close()


def test_stats_count_fetches_and_environments(store: MemoryStore) -> None:
    secrets = make(store)
    for _ in range(10):
        secrets.hasher("web", "test").user_hash(user_id="1")
    stats = secrets.stats()["mem"]
    secrets.close()
    assert stats["fetches"] == 1 and stats["environments_loaded"] == 6
    assert "hits" not in stats, "no counter on the hot path"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_hashes_and_refreshes(store: MemoryStore) -> None:
    clock = FakeClock()
    secrets = make(store, clock, ttl=0.2, refresh_ahead=0.5, jitter=0.0)
    hasher = secrets.hasher("ios", "test")
    parent_hash = hasher.user_hash(user_id="9")
    resets_before = store.resets
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        code = 1
        try:
            same = hasher.user_hash(user_id="9") == parent_hash
            store.values["ios-test"] = SECRET_B
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and hasher.fingerprint != _fp(SECRET_B):
                clock.advance(0.02)  # the child's own refresher runs the passes that fall due
            refreshed = hasher.fingerprint == _fp(SECRET_B)
            reset = store.resets > resets_before
            os.write(write_fd, f"{same} {refreshed} {reset}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    report = os.read(read_fd, 100).decode()
    os.close(read_fd)
    secrets.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == "True True True", report
    assert hasher.user_hash(user_id="9") == parent_hash, "the parent is unaffected"


def _fp(value: str) -> str:
    from ivsecrets import fingerprint

    return fingerprint(value)


@pytest.mark.parametrize("length", [1, 32, 63, 64, 65, 200])
def test_the_prekeyed_pads_give_hmac_sha256(length: int) -> None:
    import hashlib
    import hmac

    from ivsecrets.prekeyed import prekeyed_mac

    key = bytes(range(256))[:length]
    mac = prekeyed_mac(key)
    for message in (b"", b"42", "ünïcode".encode(), b"x" * 300):
        expected = hmac.new(key, message, hashlib.sha256)
        copy = mac.copy()
        copy.update(message)
        assert copy.hexdigest() == expected.hexdigest()
        again = mac.copy()
        again.update(message)
        assert again.digest() == expected.digest()
    assert "PrekeyedHmac" in repr(mac) and key.hex() not in repr(mac)


def test_verify_and_user_hash_agree_with_the_published_vectors(store: MemoryStore) -> None:
    store.values["web-prod"] = "s3cre7"
    secrets = make(store)
    hasher = secrets.hasher("web", "prod")
    try:
        expected = "844240a2deab99438ade8e7477aa832e22adb0e1eb1ad7754ff8d4054fb63869"
        assert hasher.user_hash(email="test@intercom.io") == expected
        assert hasher.verify(expected.upper(), email="test@intercom.io")
    finally:
        secrets.close()


def test_bad_hashes_cannot_drive_previous_lookups_while_the_store_fails(
    store: MemoryStore,
) -> None:
    # Today's failure: every verify() of a wrong hash asked the store for the previous secret
    # again while the store was failing (8 concurrent bad hashes made 8 calls).
    store.latency = 0.05
    secrets = make(store, backoff_base=5, backoff_max=5)
    hasher = secrets.hasher("ios", "prod")
    try:
        good = hasher.user_hash(user_id="1")
        store.down = True
        calls = store.calls
        barrier = threading.Barrier(8)
        results: list[bool] = []

        def bad() -> None:
            barrier.wait()
            results.append(hasher.verify("0" * 64, user_id="1"))

        threads = [threading.Thread(target=bad) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for _ in range(20):
            results.append(hasher.verify("f" * 64, user_id="1"))
        assert store.calls - calls == 1, "one lookup, then backed off"
        assert not any(results)
        assert hasher.verify(good, user_id="1"), "the current secret still verifies"
    finally:
        secrets.close()


def test_a_stale_read_allocates_no_snapshot(store: MemoryStore) -> None:
    # Issue 21 item 4: serving stale cost a dataclasses.replace per hash. The stale view is made
    # once per snapshot; every stale read after that gets the same object (and is still counted).
    clock = FakeClock()
    secrets = make(store, clock, ttl=0.1, max_stale=1.0, backoff_base=0.02, backoff_max=0.05)
    hasher = secrets.hasher("web", "prod")
    expected = hasher.user_hash(user_id="7")
    store.down = True
    clock.advance(0.2)  # past ttl: stale now (catch_up cleared the pads)
    slot = hasher._slot
    cache = slot.cache
    assert slot.keys.inner is None
    first = cache.keys(slot)
    assert first.inner is not None and slot.keys.inner is None, "the hot path still leaves"
    assert cache.keys(slot) is first and cache.keys(slot) is first
    served = secrets.stats()["mem"]["stale_served"]
    assert hasher.user_hash(user_id="7") == expected
    assert secrets.stats()["mem"]["stale_served"] == served + 1
    clock.advance(1.0)  # past ttl + max_stale: fails closed as before
    with pytest.raises(StaleSecretError):
        hasher.user_hash(user_id="7")
    secrets.close()
