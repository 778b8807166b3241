"""The threads behind the caches: each cache's refresher and the process's expiry thread.

Both wait on real time for deadlines their caches compute with the caches' own clocks; neither
reads a clock itself. A test that drives a cache with a fake clock calls
:meth:`Refresher.catch_up` (through ``SecretCache.catch_up``) after moving it: the refresher runs
the pass due at the new time before that call returns, as it would have had the time passed.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Protocol

__all__ = ["ExpiryThread", "Refresher"]

log = logging.getLogger("ivsecrets")
_LONGEST_WAIT = 60.0  # a safety net: the refresher looks again at least this often


class _Refreshed(Protocol):
    _closed: bool

    def _refresh_due(self) -> float:
        """Run the refresh pass due now, if any; the seconds until the next one."""


class _Expiring(Protocol):
    def _expire(self) -> float:
        """Clear the pads of snapshots no longer fresh; the seconds until the next deadline."""


class Refresher:
    """One cache's background refresh thread, started on first use, stopped by ``stop()``.

    It runs a pass, sleeps until the next one falls due (or ``wake()``), and runs again.
    """

    def __init__(self, cache: _Refreshed, name: str) -> None:
        self._cache = cache
        self._name = name
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # catch_up() asks for a pass that starts after its request; _done is the latest request
        # a finished pass started after. Both stay 0 unless a test drives the clock.
        self._passes = threading.Condition()
        self._asked = 0
        self._done = 0

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None or self._cache._closed:
            return
        with self._lock:
            if self._thread is None and not self._cache._closed:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def wake(self) -> None:
        self.start()
        if not self._wake.is_set():
            self._wake.set()

    def stop(self) -> None:
        """Wake the thread (whose cache is closed) and wait for it to end."""
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def catch_up(self) -> bool:
        """Have the thread run a pass that starts after this call, and wait for it to finish.

        False when no thread runs (not started yet, or its cache is closed): the caller decides.
        """
        thread = self._thread
        if thread is None or self._cache._closed:
            return False
        with self._passes:
            self._asked += 1
            asked = self._asked
            self._wake.set()
            while self._done < asked and thread.is_alive() and not self._cache._closed:
                self._passes.wait(timeout=0.1)
        return True

    def _run(self) -> None:
        cache, wake = self._cache, self._wake
        while not cache._closed:
            asked = self._asked
            delay = cache._refresh_due()
            with self._passes:
                self._done = asked
                self._passes.notify_all()
                again = self._asked != asked  # a catch-up asked during the pass: no sleep
            if not again:
                wake.wait(timeout=max(0.0, min(delay, _LONGEST_WAIT)))
            wake.clear()


class ExpiryThread:
    """Clears the pads of snapshots when they stop being fresh, so the hot path needs no clock.

    One daemon thread per process for every cache; it never does I/O and takes a cache's mark
    lock for one assignment. It sleeps until the next deadline (at most a second, as a safety
    net) and is woken when a reader arms a snapshot. A forked child starts its own on first use.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the threads and caches of the parent (called in a forked child)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._caches: weakref.WeakSet[_Expiring] = weakref.WeakSet()
        self._thread: threading.Thread | None = None

    def watch(self, cache: _Expiring) -> None:
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
            soonest = 1.0
            for cache in list(self._caches):
                try:
                    soonest = min(soonest, cache._expire())
                except Exception:  # the expiry thread must outlive surprises
                    log.exception("expiring cached secrets failed unexpectedly")
            self._wake.wait(timeout=max(0.0, soonest))
