"""The in-process secret cache: one per store configuration.

Readers never lock and read no clock. Each environment has a ``_Slot`` whose ``keys`` attribute
holds an immutable ``_Keys`` snapshot (the pre-keyed HMAC pads, the secret and its deadlines);
writers replace the whole snapshot, which is atomic in CPython. A reader leaves the fast path only
when the snapshot has no pads: cold, a *probe*, or past ``fresh_until``, when the process's expiry
thread (which does no I/O) clears them; the slow path then reads the clock and decides.

Life of a snapshot (seconds after a successful fetch):
``0 .. ttl*refresh_ahead`` fresh; the background refresher reloads it at ``refresh_at`` so warm
readers never wait on the network; ``.. ttl`` still fresh; ``.. ttl + max_stale`` stale: served
while the store fails, with a warning and jittered backoff; after that the cache fails closed with
:class:`~ivsecrets.errors.StaleSecretError`.

Refresh in passes (what a fleet pays): the refresher makes one pass per store per period. A pass
covers every environment *used since the previous pass* whose refresh falls within half a period
from now, so environments loaded at different times converge onto one pass; jitter is drawn once
per pass (it spreads processes over time, not the slots of one process). Which environments were
used costs nothing on the hot path: every snapshot is installed as a *probe* (without its pads),
so the first reader after a pass takes the slow path once, marks the slot used and installs the
same snapshot with its pads. An
environment nobody used since the last pass is not refreshed ("idle"): once it expires, its next
reader does one synchronous load (of that environment only); if that load fails, the last good
secret is served under the usual stale rules.

Fetches are single-flight: one lock per cache serialises store calls (cold loads, refreshes,
previous-secret lookups). Where the store reads several secrets per call
(``Provider.batches_serving``), a cold load batches every cold environment of the store into that
call; otherwise it loads only the environment asked for.
Past ``max_stale``, at most one store call per back-off interval is made, whatever the number of
threads; a reader that finds the lock taken waits for that call (at most one store timeout) and
does not call again. ``previous`` lookups (``verify``) are cached for ``ttl``, failures for a
back-off interval, so wrong hashes cannot drive store calls. The cache survives ``os.fork()``: the
child drops the parent's clients and refresher thread and starts its own on first use.
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
from dataclasses import dataclass, field, replace
from time import monotonic
from typing import Any

from ivsecrets.config import CacheSettings
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import SecretNotFoundError, StaleSecretError, StoreError
from ivsecrets.provider import Provider
from ivsecrets.secret import Secret

__all__ = ["CacheEvent", "PrekeyedHmac", "SecretCache", "prekeyed_mac"]

# Messages carry no "ivsecrets:" prefix: the logger's name says where they come from (the CLI
# prints it; an application's format shows it with %(name)s).
log = logging.getLogger("ivsecrets")
_NEVER = float("inf")
_BLOCK = 64  # SHA-256's block size: the HMAC pads are this long
_CHECK_MESSAGE = b"HMAC construction check"


class _Digest:
    """Stands in for the outer hash when the pads are one OpenSSL HMAC (the fallback path)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes = b"") -> None:
        self._value = value

    def copy(self) -> _Digest:
        return _Digest()

    def update(self, data: bytes) -> None:
        self._value = data

    def digest(self) -> bytes:
        return self._value

    def hexdigest(self) -> str:
        return self._value.hex()


class PrekeyedHmac:
    """HMAC-SHA256 keyed once: ``copy()`` gives an object with ``update``/``digest``/``hexdigest``.

    The two cheapest correct constructions measured in CPython (bench/hot_path.py measures them
    against the OpenSSL HMAC copy and ``hmac.new`` in one run), the first one available:

    - ``cryptography``'s HMAC context keyed once (``outer`` is None): per message, ``copy()``,
      ``update()``, ``finalize()``; when ``cryptography`` is installed (it usually is: PyJWT's
      RSA/EC support, most cloud SDKs);
    - two ``hashlib.sha256`` objects that have absorbed the key's inner and outer pads (RFC 2104):
      per message, copy the inner one, feed it the message, then feed its digest to a copy of the
      outer one.

    The hot path in ``Hasher.user_hash`` uses ``inner``/``outer`` directly; ``verify`` and a JWT
    signer use ``copy()``. The construction is checked against ``hmac.new`` for every key
    installed; when neither can be used (a FIPS build that refuses them, say), ``inner`` is
    OpenSSL's HMAC object and ``outer`` a pass-through, so the same steps still give the digest.
    """

    __slots__ = ("_done", "inner", "outer")

    def __init__(self, inner: Any, outer: Any) -> None:
        self.inner = inner
        self.outer = outer
        self._done: bytes | None = None

    def __repr__(self) -> str:
        return "PrekeyedHmac(sha256)"

    def copy(self) -> PrekeyedHmac:
        return PrekeyedHmac(self.inner.copy(), self.outer)

    def update(self, data: bytes) -> None:
        self.inner.update(data)

    def digest(self) -> bytes:
        if self.outer is None:  # a cryptography context finalizes once: keep its result
            if self._done is None:
                self._done = self.inner.finalize()
            return self._done
        outer = self.outer.copy()
        outer.update(self.inner.digest())
        return outer.digest()  # type: ignore[no-any-return]

    def hexdigest(self) -> str:
        return self.digest().hex()


def _pads(key: bytes) -> tuple[Any, Any]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def _openssl_hmac(key: bytes) -> Any:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    return getattr(mac, "_hmac", None) or mac


def _cryptography_hmac(key: bytes) -> tuple[Any, None]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.hmac import HMAC

    return HMAC(key, hashes.SHA256()), None


def prekeyed_mac(key: bytes) -> PrekeyedHmac:
    """A :class:`PrekeyedHmac` for ``key``, checked against ``hmac.new`` before it is used."""
    expected = hmac.new(key, _CHECK_MESSAGE, hashlib.sha256).digest()
    for build in (_cryptography_hmac, _pads):
        try:
            mac = PrekeyedHmac(*build(key))
            check = mac.copy()
            check.update(_CHECK_MESSAGE)
            if hmac.compare_digest(check.digest(), expected):
                return mac
        except (ImportError, ValueError):  # not installed; or refused (a FIPS build)
            continue
        except Exception:  # an unusable library must not stop serving
            log.debug("%s unusable here", build.__name__, exc_info=True)
    log.debug("using OpenSSL's HMAC object")
    return PrekeyedHmac(_openssl_hmac(key), _Digest())


@dataclass(frozen=True)
class CacheEvent:
    """What the optional ``on_event`` hook receives.

    ``kind`` is one of ``fetch`` (a store call succeeded, ``duration`` in seconds), ``failure``
    (``error`` says why; a ``StoreThrottledError`` is a throttle), ``stale`` (a stale secret was
    served; ``age`` is its age in seconds), ``expired`` (failed closed past max_stale),
    ``rotated`` (a new current secret was installed).
    """

    kind: str
    store: str
    environment: Environment | None = None
    duration: float = 0.0
    error: StoreError | None = field(default=None, repr=False)
    age: float = 0.0


@dataclass(frozen=True)
class _Keys:
    """An immutable snapshot of one environment's secret, as readers see it.

    ``inner``/``outer`` (the HMAC pads the hot path uses) are the readers' gate: set on a snapshot
    that is fresh and marked used, None on a probe (installed, not yet read), on one past
    ``fresh_until`` (the expiry thread clears them) and on a cold slot. The hot path reads no
    clock: a None pad sends it to :meth:`SecretCache.keys`.
    """

    mac: PrekeyedHmac | None = None
    inner: Any = None
    outer: Any = None
    secret: Secret | None = None
    loaded_at: float = -_NEVER
    refresh_at: float = -_NEVER
    fresh_until: float = -_NEVER
    stale_until: float = -_NEVER
    error: StoreError | None = None
    retry_at: float = -_NEVER


_COLD = _Keys()


class _Slot:
    """One environment in the cache. ``keys`` is replaced whole, never mutated.

    ``used``: a reader read it since the last refresh pass; ``idle``: a pass skipped it as unused.
    """

    __slots__ = ("cache", "environment", "idle", "keys", "previous", "reference", "used")

    def __init__(self, cache: SecretCache, environment: Environment, reference: str) -> None:
        self.cache = cache
        self.environment = environment
        self.reference = reference
        self.keys: _Keys = _COLD
        self.previous: tuple[float, PrekeyedHmac | None, Secret | None] | None = None
        self.used = False
        self.idle = False


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
            "refresh_passes": 0,
            "failures": 0,
            "stale_served": 0,
            "expired": 0,
            "rotations_seen": 0,
            "previous_lookups": 0,
        }
        self._failures_in_a_row = 0
        self._next_attempt = -_NEVER
        self._closed = False
        self._init_threading()
        _LIVE_CACHES.add(self)

    def _init_threading(self) -> None:
        self._fetch_lock = threading.Lock()
        self._mark_lock = threading.Lock()  # held for a few attribute writes, never across I/O
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SecretCache(store={self.provider.name!r}, environments={len(self.slots)})"

    # -- reader side ----------------------------------------------------------------------------

    def keys(self, slot: _Slot) -> _Keys:
        """The snapshot to serve for ``slot`` (the slow path behind the hasher's fast check).

        What it returns always has its pads set; it may be a stale one that ``slot`` does not
        hold (so that the next reader comes here again).
        """
        keys = slot.keys
        now = monotonic()
        if keys.secret is None:
            return self._load_cold(slot)
        if now < keys.fresh_until:
            return keys if keys.inner is not None else self._mark_used(slot, keys)
        if slot.idle:
            return self._load_idle(slot)
        slot.used = True
        if now < keys.stale_until:
            self._serve_stale(slot, keys, now)
            return _armed(keys)
        return self._past_max_stale(slot)

    def _mark_used(self, slot: _Slot, keys: _Keys) -> _Keys:
        with self._mark_lock:
            if slot.keys is keys:
                slot.keys = keys = _armed(keys)
            else:
                keys = slot.keys
            slot.used = True
            woke, slot.idle = slot.idle, False
        _EXPIRY.watch(self)
        if woke or self._thread is None:
            self._wake_refresher()
        return keys if keys.inner is not None else _armed(keys)

    def _expire(self, now: float) -> float:
        """Clear the pads of snapshots past ``fresh_until`` (the expiry thread calls this);
        returns the next such deadline."""
        soonest = _NEVER
        for slot in self.slots.values():
            keys = slot.keys
            if keys.inner is None:
                continue
            if now >= keys.fresh_until:
                with self._mark_lock:
                    if slot.keys is keys:
                        slot.keys = replace(keys, inner=None, outer=None)
            else:
                soonest = min(soonest, keys.fresh_until)
        return soonest

    def _serve_stale(self, slot: _Slot, keys: _Keys, now: float) -> None:
        self._counters["stale_served"] += 1
        if self.on_event is not None:
            self._emit("stale", slot.environment, age=now - keys.loaded_at)
        self._wake_refresher()

    def _load_idle(self, slot: _Slot) -> _Keys:
        # Not refreshed because unused: one synchronous load of this environment, then serve.
        with self._fetch_lock:
            if slot.idle and monotonic() >= slot.keys.fresh_until:
                if monotonic() >= self._next_attempt:
                    self._fetch([slot])
                slot.idle = False
        keys = slot.keys
        if keys.secret is not None and monotonic() < keys.fresh_until:
            return self._mark_used(slot, keys)
        return self.keys(slot)

    def _past_max_stale(self, slot: _Slot) -> _Keys:
        # One store call per back-off interval, whatever the number of threads: the check is
        # repeated under the lock, so the threads queued behind a failing call do not repeat it.
        if monotonic() >= self._next_attempt:
            with self._fetch_lock:
                if monotonic() >= self._next_attempt and monotonic() >= slot.keys.stale_until:
                    self._fetch([slot])
        keys = slot.keys
        if monotonic() < keys.stale_until:
            return self.keys(slot)
        self._counters["expired"] += 1
        self._emit("expired", slot.environment)
        raise StaleSecretError(
            f"the store has failed for longer than max_stale ({self.settings.max_stale:g} s); "
            "refusing to serve a stale secret",
            store=self.provider.name,
            reference=slot.reference,
            environment=slot.environment,
        )

    def previous(self, slot: _Slot) -> PrekeyedHmac | None:
        """The pre-keyed HMAC of the store's previous version, or None.

        Cached for ``ttl`` (an absent previous version too); a failed lookup is remembered for a
        back-off interval, so that wrong hashes given to ``verify`` cannot drive store calls.
        """
        cached = slot.previous
        if cached is not None and monotonic() < cached[0]:
            return cached[1]
        with self._fetch_lock:
            cached = slot.previous
            if cached is not None and monotonic() < cached[0]:
                return cached[1]
            self._counters["previous_lookups"] += 1
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
                mac, old = (cached[1], cached[2]) if cached is not None else (None, None)
                slot.previous = (monotonic() + self._backoff(), mac, old)
                return mac
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
                # A batch read loads every cold environment for free; a per-secret read only
                # the one asked for (the others may never be used by this process).
                cold = [
                    s
                    for s in self.slots.values()
                    if s.keys.secret is None and (s is slot or s.keys.error is None)
                ]
                self._fetch(cold if self.provider.batches_serving() else [slot])
                keys = slot.keys
        if keys.secret is None:
            assert keys.error is not None
            raise keys.error.with_traceback(None)
        self._ensure_refresher()
        return self.keys(slot)

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

    def _fetch(self, slots: list[_Slot]) -> list[StoreError]:
        """Fetch ``slots`` and install the results. Caller holds the fetch lock.

        Cold slots are read with the store's serving read (one batch where the store has one);
        known ones with its refresh read (which may only check that the version is unchanged).
        """
        cold = [s for s in slots if s.keys.secret is None]
        known = [s for s in slots if s.keys.secret is not None]
        errors = []
        if cold:
            errors += self._fetch_part(cold, refresh=False)
        if known:
            errors += self._fetch_part(known, refresh=True)
        return errors

    def _fetch_part(self, slots: list[_Slot], refresh: bool) -> list[StoreError]:
        started = monotonic()
        self._counters["fetches"] += 1
        wanted = {s.environment: s.reference for s in slots}
        if refresh:
            self._counters["refresh_passes"] += 1
            current = {s.environment: s.keys.secret for s in slots if s.keys.secret is not None}
            results = self.provider.refresh_many(wanted, current)
        else:
            results = self.provider.serve_many(wanted)
        now = monotonic()
        errors = []
        warm_failed: list[tuple[_Slot, StoreError]] = []
        s = self.settings
        # One jitter draw per pass: jitter spreads the processes of a fleet, not one process's
        # environments (those stay together, so the next pass is one call again).
        ahead = s.ttl * s.refresh_ahead * (1.0 - s.jitter * random.random())
        for slot in slots:
            result = results[slot.environment]
            if isinstance(result, Secret):
                self._install(slot, result, now, ahead)
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
        if len(errors) < len(slots):
            self._emit("fetch", None, now - started)
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

    def _install(self, slot: _Slot, secret: Secret, now: float, ahead: float) -> None:
        s = self.settings
        keys = slot.keys
        old = keys.secret
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
        if old is not None and old.fingerprint == secret.fingerprint and keys.mac is not None:
            mac = keys.mac  # unchanged (a version check): keep the pads, skip the check
        else:
            mac = prekeyed_mac(secret.value.reveal())
        new = _Keys(  # a probe, no pads: the first reader marks it used (module docstring)
            mac=mac,
            secret=secret,
            loaded_at=now,
            refresh_at=now + ahead,
            fresh_until=now + s.ttl,
            stale_until=now + s.ttl + s.max_stale,
        )
        with self._mark_lock:
            slot.keys = new
            slot.used = False

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
        age: float = 0.0,
    ) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(CacheEvent(kind, self.provider.name, environment, duration, error, age))
        except Exception:  # a metrics hook must never break serving
            log.exception("the on_event hook raised")

    # -- the background refresher ---------------------------------------------------------------

    def _pass(self, now: float) -> list[_Slot]:
        """The slots this refresh pass reloads; marks the unused ones idle."""
        window = now + self.settings.ttl * self.settings.refresh_ahead / 2
        due = []
        for slot in self.slots.values():
            keys = slot.keys
            if keys.secret is None or slot.idle:
                continue
            if slot.used and keys.refresh_at <= window:
                due.append(slot)
            elif not slot.used and keys.refresh_at <= now:
                slot.idle = True  # reloaded by its next reader, if any
        return due if any(s.keys.refresh_at <= now for s in due) else []

    def _refresh_pass(self) -> None:
        with self._fetch_lock:
            now = monotonic()
            if now < self._next_attempt:
                return
            due = self._pass(now)
            if due:
                self._fetch(due)

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
            try:
                self._refresh_pass()
            except Exception:  # the refresher must outlive surprises
                log.exception("the background refresh failed unexpectedly")
                self._failures_in_a_row += 1
                self._next_attempt = monotonic() + self._backoff()
            now = monotonic()
            deadlines = [
                s.keys.refresh_at
                for s in self.slots.values()
                if s.keys.secret is not None and not s.idle
            ]
            next_run = max(min(deadlines, default=now + self.settings.ttl), self._next_attempt)
            wake.wait(timeout=max(0.0, min(next_run - monotonic(), 60.0)))
            wake.clear()

    # -- lifecycle and metrics -----------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters: fetches (store reads), refresh_passes, failures, stale_served, expired, ...

        There is no hit counter: counting every hash would cost the hot path (see
        bench/hot_path.py); the metrics hook counts what leaves it.
        """
        counters = dict(self._counters)
        counters["environments_loaded"] = sum(
            1 for s in self.slots.values() if s.keys.secret is not None
        )
        counters["environments_used"] = sum(
            1 for s in self.slots.values() if s.keys.secret is not None and not s.idle
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
                slot.keys = replace(keys, refresh_at=-_NEVER, inner=None, outer=None)
                slot.used = True
                slot.idle = False


def _armed(keys: _Keys) -> _Keys:
    """``keys`` with its pads set, for a reader to use."""
    assert keys.mac is not None
    return replace(keys, inner=keys.mac.inner, outer=keys.mac.outer)


class _ExpiryThread:
    """Clears the pads of snapshots when they stop being fresh, so the hot path needs no clock.

    One daemon thread per process for every cache; it never does I/O and takes a cache's mark
    lock for one assignment. It sleeps until the next deadline (at most a second, as a safety
    net) and is woken when a reader arms a snapshot. A forked child starts its own on first use.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._caches: weakref.WeakSet[SecretCache] = weakref.WeakSet()
        self._thread: threading.Thread | None = None

    def watch(self, cache: SecretCache) -> None:
        if cache not in self._caches or self._thread is None:
            with self._lock:
                self._caches.add(cache)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="ivsecrets-expiry", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.clear()
            now = monotonic()
            soonest = now + 1.0
            for cache in list(self._caches):
                try:
                    soonest = min(soonest, cache._expire(now))
                except Exception:  # the expiry thread must outlive surprises
                    log.exception("expiring cached secrets failed unexpectedly")
            self._wake.wait(timeout=max(0.0, soonest - monotonic()))


_LIVE_CACHES: weakref.WeakSet[SecretCache] = weakref.WeakSet()
_EXPIRY = _ExpiryThread()


def _after_fork() -> None:
    _EXPIRY._reset()
    for cache in list(_LIVE_CACHES):
        cache._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
