"""The in-process secret cache: one per store configuration.

Readers never lock. Each environment has a ``_Slot`` whose ``keys`` attribute holds an immutable
``_Keys`` snapshot (the pre-keyed HMAC, the secret and its deadlines); writers replace the whole
snapshot, which is atomic in CPython. A reader compares one ``monotonic()`` reading with
``keys.expires_at`` and only leaves the fast path when the snapshot is cold or overdue.

Life of a snapshot (seconds after a successful fetch):
``0 .. ttl*refresh_ahead`` fresh; the background refresher reloads it at ``refresh_at`` (jittered)
so warm readers never wait on the network; ``.. ttl`` still fresh; ``.. ttl + max_stale`` stale:
served while the store fails, with a warning and jittered backoff; after that the cache fails
closed with :class:`~ivsecrets.errors.StaleSecretError`.

Fetches are single-flight: one lock per cache serialises store calls (cold loads, refreshes),
and cold loads batch every cold environment of the store into one call. Readers of warm slots
never touch that lock. The cache survives ``os.fork()``: the child drops the parent's clients
and refresher thread and starts its own on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from ivsecrets.config import CacheSettings
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import SecretNotFoundError, StaleSecretError, StoreError
from ivsecrets.provider import Provider
from ivsecrets.secret import Secret

__all__ = ["CacheEvent", "SecretCache", "prekeyed_mac"]

# Messages carry no "ivsecrets:" prefix: the logger's name says where they come from (the CLI
# prints it; an application's format shows it with %(name)s).
log = logging.getLogger("ivsecrets")
_NEVER = float("inf")


def prekeyed_mac(key: bytes) -> Any:
    """An HMAC-SHA256 object keyed once, to be ``copy()``-ed per message.

    Uses the OpenSSL object inside ``hmac.HMAC`` when CPython has one: its ``copy()`` is a single
    C call, where the Python wrapper's costs an extra object and attribute copies.
    """
    mac = hmac.new(key, digestmod=hashlib.sha256)
    return getattr(mac, "_hmac", None) or mac


@dataclass(frozen=True)
class CacheEvent:
    """What the optional ``on_event`` hook receives: fetch, failure, stale, expired, rotated."""

    kind: str
    store: str
    environment: Environment | None = None
    duration: float = 0.0
    error: StoreError | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Keys:
    """An immutable snapshot of one environment's secret, as readers see it."""

    mac: Any = None
    secret: Secret | None = None
    refresh_at: float = -_NEVER
    expires_at: float = -_NEVER
    stale_until: float = -_NEVER
    error: StoreError | None = None
    retry_at: float = -_NEVER


_COLD = _Keys()


class _Slot:
    """One environment in the cache. ``keys`` is replaced whole, never mutated."""

    __slots__ = ("cache", "environment", "hits", "keys", "previous", "reference")

    def __init__(self, cache: SecretCache, environment: Environment, reference: str) -> None:
        self.cache = cache
        self.environment = environment
        self.reference = reference
        self.keys: _Keys = _COLD
        self.previous: tuple[float, Any, Secret | None] | None = None
        self.hits = 0  # incremented without a lock: approximate under contention, by design


class SecretCache:
    """Caches the current (and, on demand, previous) secrets of one store's environments.

    Thread-safe; readers are lock-free once warm. ``on_event`` is called from whichever thread
    saw the event and must not block.
    """

    def __init__(
        self,
        provider: Provider,
        environments: Mapping[Environment, str],
        settings: CacheSettings,
        on_event: Callable[[CacheEvent], None] | None = None,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.on_event = on_event
        self.slots = {env: _Slot(self, env, ref) for env, ref in environments.items()}
        self._counters = {
            "fetches": 0,
            "failures": 0,
            "stale_served": 0,
            "expired": 0,
            "rotations_seen": 0,
        }
        self._failures_in_a_row = 0
        self._next_attempt = -_NEVER
        self._closed = False
        self._init_threading()
        _LIVE_CACHES.add(self)

    def _init_threading(self) -> None:
        self._fetch_lock = threading.Lock()
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SecretCache(store={self.provider.name!r}, environments={len(self.slots)})"

    # -- reader side ----------------------------------------------------------------------------

    def keys(self, slot: _Slot) -> _Keys:
        """The snapshot to serve for ``slot`` (the slow path behind the hasher's fast check)."""
        keys = slot.keys
        now = monotonic()
        if now < keys.expires_at:
            return keys
        if keys.secret is None:
            return self._load_cold(slot)
        if now < keys.stale_until:
            self._counters["stale_served"] += 1
            self._wake_refresher()
            return keys
        # Past max_stale: one synchronous attempt (unless backing off), then fail closed.
        if now >= self._next_attempt:
            self._refresh(self._due_slots(now, [slot]))
        keys = slot.keys
        if monotonic() < keys.stale_until:
            return keys
        self._counters["expired"] += 1
        self._emit("expired", slot.environment)
        raise StaleSecretError(
            f"the store has failed for longer than max_stale ({self.settings.max_stale:g} s); "
            "refusing to serve a stale secret",
            store=self.provider.name,
            reference=slot.reference,
            environment=slot.environment,
        )

    def previous(self, slot: _Slot) -> Any:
        """The pre-keyed HMAC of the store's previous version, or None; cached for ``ttl``."""
        cached = slot.previous
        now = monotonic()
        if cached is not None and now < cached[0]:
            return cached[1]
        with self._fetch_lock:
            cached = slot.previous
            if cached is not None and monotonic() < cached[0]:
                return cached[1]
            self._counters["fetches"] += 1
            try:
                secret: Secret | None = self.provider.load(
                    slot.environment, slot.reference, Stage.previous
                )
            except SecretNotFoundError:
                secret = None
            except StoreError as err:
                self._counters["failures"] += 1
                log.warning("loading the previous secret of %s failed: %s", slot.environment, err)
                self._emit("failure", slot.environment, error=err)
                return cached[1] if cached is not None else None
            mac = prekeyed_mac(secret.value.reveal()) if secret is not None else None
            slot.previous = (monotonic() + self.settings.ttl, mac, secret)
            return mac

    # -- loading --------------------------------------------------------------------------------

    def _load_cold(self, slot: _Slot) -> _Keys:
        with self._fetch_lock:
            keys = slot.keys
            if keys.secret is None:
                if keys.error is not None and monotonic() < keys.retry_at:
                    raise keys.error.with_traceback(None)
                cold = [
                    s
                    for s in self.slots.values()
                    if s.keys.secret is None and (s is slot or s.keys.error is None)
                ]
                self._fetch(cold)
                keys = slot.keys
        if keys.secret is None:
            assert keys.error is not None
            raise keys.error.with_traceback(None)
        self._ensure_refresher()
        return keys if monotonic() < keys.stale_until else self.keys(slot)

    def refresh(self, environments: Iterable[Environment] | None = None) -> None:
        """Reload now, ignoring TTL and backoff; blocks until done.

        Raises the first environment's StoreError if any failed; the others are updated and a
        failed one keeps serving its last good secret under the usual stale rules.
        """
        wanted = (
            self.slots.values()
            if environments is None
            else [self.slots[env] for env in environments]
        )
        with self._fetch_lock:
            for slot in wanted:
                slot.previous = None  # reloaded on demand: a rotation may have retired it
            errors = self._fetch(list(wanted))
        if errors:
            raise errors[0]

    def _refresh(self, slots: list[_Slot]) -> None:
        if not slots:
            return
        with self._fetch_lock:
            self._fetch(slots)

    def _fetch(self, slots: list[_Slot]) -> list[StoreError]:
        """Fetch ``slots`` in one batch and install the results. Caller holds the fetch lock."""
        if not slots:
            return []
        started = monotonic()
        self._counters["fetches"] += 1
        results = self.provider.load_many({s.environment: s.reference for s in slots})
        now = monotonic()
        self._emit("fetch", None, now - started)
        errors = []
        warm_failed: list[tuple[_Slot, StoreError]] = []
        for slot in slots:
            result = results[slot.environment]
            if isinstance(result, Secret):
                self._install(slot, result, now)
                continue
            errors.append(result)
            self._counters["failures"] += 1
            self._emit("failure", slot.environment, error=result)
            if slot.keys.secret is None:
                # A cold failure is raised to the reader who asked; environments merely
                # batched along (perhaps never used by this process) are not worth a warning.
                log.debug("loading the secret of %s failed: %s", slot.environment, result)
                slot.keys = _Keys(error=result, retry_at=now + self._backoff())
            else:
                warm_failed.append((slot, result))
        if warm_failed:
            self._warn_refresh_failed(warm_failed, now)
            self._failures_in_a_row += 1
            self._next_attempt = now + self._backoff()
        elif not errors:
            self._failures_in_a_row = 0
            self._next_attempt = -_NEVER
        return errors

    def _warn_refresh_failed(self, failed: list[tuple[_Slot, StoreError]], now: float) -> None:
        """One warning per failed refresh of the store, however many environments it covered."""
        names = ", ".join(str(slot.environment) for slot, _ in failed)
        reason = failed[0][1].detail  # without the location: the line names the environments
        left = min(slot.keys.stale_until for slot, _ in failed) - now
        one = len(failed) == 1
        what = f"the secret of {names}" if one else f"the secrets of {names}"
        if left > 0:
            fp = failed[0][0].keys.secret
            kept = f"the last good one ({fp.fingerprint})" if one and fp else "the last good ones"
            outcome = f"serving {kept} for at most {left:.0f} s more (max_stale)"
        else:
            outcome = (
                f"max_stale ({self.settings.max_stale:g} s) has run out: "
                "no stale secret is served any more"
            )
        log.warning(
            "refreshing %s (store '%s') failed: %s; %s",
            what,
            self.provider.name,
            reason,
            outcome,
        )

    def _install(self, slot: _Slot, secret: Secret, now: float) -> None:
        s = self.settings
        old = slot.keys.secret
        if old is not None and old.fingerprint != secret.fingerprint:
            self._counters["rotations_seen"] += 1
            slot.previous = None  # the store's previous version has changed too
            log.info(
                "%s now serves a new secret %s (was %s)",
                slot.environment,
                secret.fingerprint,
                old.fingerprint,
            )
            self._emit("rotated", slot.environment)
        ahead = s.ttl * s.refresh_ahead * (1.0 - s.jitter * random.random())
        slot.keys = _Keys(
            mac=prekeyed_mac(secret.value.reveal()),
            secret=secret,
            refresh_at=now + ahead,
            expires_at=now + s.ttl,
            stale_until=now + s.ttl + s.max_stale,
        )

    def _backoff(self) -> float:
        s = self.settings
        delay = min(s.backoff_max, s.backoff_base * 2 ** min(self._failures_in_a_row, 30))
        return float(delay * (1.0 - s.jitter * random.random()))

    def _emit(
        self,
        kind: str,
        environment: Environment | None,
        duration: float = 0.0,
        error: StoreError | None = None,
    ) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(CacheEvent(kind, self.provider.name, environment, duration, error))
        except Exception:  # a metrics hook must never break serving
            log.exception("the on_event hook raised")

    # -- the background refresher ---------------------------------------------------------------

    def _due_slots(self, now: float, slots: Iterable[_Slot] | None = None) -> list[_Slot]:
        candidates = self.slots.values() if slots is None else slots
        return [s for s in candidates if s.keys.secret is not None and now >= s.keys.refresh_at]

    def _ensure_refresher(self) -> None:
        if self._thread is not None or self._closed:
            return
        with self._thread_lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name=f"ivsecrets-refresh-{self.provider.name}", daemon=True
                )
                self._thread.start()

    def _wake_refresher(self) -> None:
        self._ensure_refresher()
        if not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        wake = self._wake
        while not self._closed:
            now = monotonic()
            if now >= self._next_attempt:
                due = self._due_slots(now)
                if due:
                    try:
                        self._refresh(due)
                    except Exception:  # the refresher must outlive surprises
                        log.exception("the background refresh failed unexpectedly")
                        self._failures_in_a_row += 1
                        self._next_attempt = monotonic() + self._backoff()
            deadlines = [
                s.keys.refresh_at for s in self.slots.values() if s.keys.secret is not None
            ]
            next_run = max(min(deadlines, default=now + self.settings.ttl), self._next_attempt)
            wake.wait(timeout=max(0.0, min(next_run - monotonic(), 60.0)))
            wake.clear()

    # -- lifecycle and metrics -----------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters: hits, fetches (store calls), failures, stale_served, expired, ..."""
        counters = dict(self._counters)
        counters["hits"] = sum(s.hits for s in self.slots.values())
        counters["environments_loaded"] = sum(
            1 for s in self.slots.values() if s.keys.secret is not None
        )
        return counters

    def close(self) -> None:
        """Stop the refresher and drop the store client. Cached secrets stay until collected."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.provider.reset()

    def _after_fork_in_child(self) -> None:
        # Threads and locks do not survive fork sanely: rebuild them, drop the parent's clients,
        # and mark every snapshot overdue so the first reader starts this process's refresher.
        self._init_threading()
        self.provider.reset()
        for slot in self.slots.values():
            keys = slot.keys
            if keys.secret is not None:
                slot.keys = _Keys(keys.mac, keys.secret, -_NEVER, -_NEVER, keys.stale_until)


_LIVE_CACHES: weakref.WeakSet[SecretCache] = weakref.WeakSet()


def _after_fork() -> None:
    for cache in list(_LIVE_CACHES):
        cache._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
