"""``SecretCache``: what readers get and when, the refresh passes, and the cache's lifecycle.

The store calls behind it are in :mod:`ivsecrets.cache.loading`, its threads in
:mod:`ivsecrets.cache.threads`; the package docstring tells the life of a snapshot.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace

from ivsecrets.cache.loading import CacheEvent, _Loading
from ivsecrets.cache.snapshots import NEVER, _armed, _Keys, _Slot
from ivsecrets.cache.threads import ExpiryThread, Refresher
from ivsecrets.config import CacheSettings
from ivsecrets.environments import Environment
from ivsecrets.errors import StaleSecretError
from ivsecrets.provider import Provider

__all__ = ["SecretCache", "catch_up"]

log = logging.getLogger("ivsecrets")


class SecretCache(_Loading):
    """Caches the current (and, on demand, previous) secrets of one store's environments.

    Thread-safe; readers are lock-free once warm. ``on_event`` is called from whichever thread
    saw the event and must not block. ``clock`` (seconds, monotonic) is read for every time the
    cache keeps; the hot path never reads it. A test that injects a fake clock calls
    :meth:`catch_up` after moving it (``ivsecrets.testing.FakeClock`` does).
    """

    def __init__(
        self,
        provider: Provider,
        environments: Mapping[Environment, str],
        settings: CacheSettings,
        on_event: Callable[[CacheEvent], None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(provider, settings, on_event, clock)
        self.slots = {env: _Slot(self, env, ref) for env, ref in environments.items()}
        self._closed = False
        self._init_threading()
        _LIVE_CACHES.add(self)

    def _init_threading(self) -> None:
        self._init_locks()
        self._refresher = Refresher(self, name=f"ivsecrets-refresh-{self.provider.name}")

    def __repr__(self) -> str:
        return f"SecretCache(store={self.provider.name!r}, environments={len(self.slots)})"

    # -- reader side ----------------------------------------------------------------------------

    def keys(self, slot: _Slot) -> _Keys:
        """The snapshot to serve for ``slot`` (the slow path behind the hasher's fast check).

        What it returns always has its pads set; it may be a stale one that ``slot`` does not
        hold (so that the next reader comes here again).
        """
        keys = slot.keys
        now = self.clock()
        if keys.secret is None:
            return self._load_cold(slot)
        if now < keys.fresh_until:
            return keys if keys.inner is not None else self._mark_used(slot, keys)
        if slot.idle:
            return self._load_idle(slot)
        slot.used = True
        if now < keys.stale_until:
            # Counted per hash (stats, metrics); the first stale read of a snapshot also wakes
            # the refresher and makes the view the next ones get (no allocation per read).
            self._counters["stale_served"] += 1
            if self.on_event is not None:
                self._emit("stale", slot.environment, age=now - keys.loaded_at)
            view = keys.view
            return view if view is not None else self._stale_view(slot, keys)
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
        if woke or not self._refresher.started:
            self._refresher.wake()
        return keys if keys.inner is not None else _armed(keys)

    def _expire(self) -> float:
        """Clear the pads of snapshots past ``fresh_until`` (the expiry thread calls this);
        returns the seconds until the next such deadline."""
        now = self.clock()
        soonest = NEVER
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
        return soonest - now

    def _stale_view(self, slot: _Slot, keys: _Keys) -> _Keys:
        # Once per stale snapshot: install the same snapshot, still without pads (its readers
        # keep coming here), holding the armed one for the next stale reads; and make sure the
        # refresher is at work (it retries on its back-off schedule from then on).
        view = _armed(keys)
        with self._mark_lock:
            if slot.keys is keys:
                slot.keys = replace(keys, view=view)
        self._refresher.wake()
        return view

    def _load_idle(self, slot: _Slot) -> _Keys:
        # Not refreshed because unused: one synchronous load of this environment, then serve.
        with self._fetch_lock:
            if slot.idle and self.clock() >= slot.keys.fresh_until:
                if self.clock() >= self._next_attempt:
                    self._fetch([slot])
                slot.idle = False
        keys = slot.keys
        if keys.secret is not None and self.clock() < keys.fresh_until:
            return self._mark_used(slot, keys)
        return self.keys(slot)

    def _past_max_stale(self, slot: _Slot) -> _Keys:
        # One store call per back-off interval, whatever the number of threads: the check is
        # repeated under the lock, so the threads queued behind a failing call do not repeat it.
        if self.clock() >= self._next_attempt:
            with self._fetch_lock:
                if self.clock() >= self._next_attempt and self.clock() >= slot.keys.stale_until:
                    self._fetch([slot])
        keys = slot.keys
        if self.clock() < keys.stale_until:
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

    def _load_cold(self, slot: _Slot) -> _Keys:
        with self._fetch_lock:
            keys = slot.keys
            if keys.secret is None:
                if keys.error is not None and self.clock() < keys.retry_at:
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
        self._refresher.start()
        return self.keys(slot)

    # -- the refresh passes ---------------------------------------------------------------------

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
            now = self.clock()
            if now < self._next_attempt:
                return
            due = self._pass(now)
            if due:
                self._fetch(due)

    def _refresh_due(self) -> float:
        """Run the refresh pass due now, if any; the seconds until the next one (the refresher's
        loop)."""
        try:
            self._refresh_pass()
        except Exception:  # the refresher must outlive surprises
            log.exception("the background refresh failed unexpectedly")
            self._failures_in_a_row += 1
            self._next_attempt = self.clock() + self._backoff()
        now = self.clock()
        deadlines = [
            s.keys.refresh_at
            for s in self.slots.values()
            if s.keys.secret is not None and not s.idle
        ]
        next_run = max(min(deadlines, default=now + self.settings.ttl), self._next_attempt)
        return next_run - self.clock()

    def catch_up(self) -> None:
        """Do now what the cache's threads would do by the time its clock reads.

        Clears the pads of snapshots no longer fresh, then has the refresher run the pass due
        now and waits for it (blocking while it calls the store). Only useful with an injected
        clock: the threads wait on real time, and a fake clock's deadlines are not real ones.
        """
        self._expire()
        if not self._refresher.catch_up() and not self._closed:
            self._refresh_due()  # no refresher yet (nothing loaded, or a forked child)

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
        self._refresher.stop()
        self.provider.reset()

    def _after_fork_in_child(self) -> None:
        # Threads and locks do not survive fork sanely: rebuild them, drop the parent's clients,
        # and mark every snapshot overdue so the first reader starts this process's refresher.
        self._init_threading()
        self.provider.reset()
        for slot in self.slots.values():
            keys = slot.keys
            if keys.secret is not None:
                slot.keys = replace(keys, refresh_at=-NEVER, inner=None, outer=None, view=None)
                slot.used = True
                slot.idle = False


_LIVE_CACHES: weakref.WeakSet[SecretCache] = weakref.WeakSet()
_EXPIRY = ExpiryThread()


def catch_up(clock: Callable[[], float]) -> None:
    """:meth:`SecretCache.catch_up` on every live cache that reads ``clock``."""
    for cache in list(_LIVE_CACHES):
        if cache.clock is clock:
            cache.catch_up()


def _after_fork() -> None:
    _EXPIRY.reset()
    for cache in list(_LIVE_CACHES):
        cache._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
