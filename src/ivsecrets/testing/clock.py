"""A clock that moves only when a test says so, for ``Secrets(clock=...)`` and ``SecretCache``.

Tests step through ttl, refresh-ahead, max_stale and back-off with it instead of sleeping.
"""

from __future__ import annotations

import threading

from ivsecrets.cache import catch_up

__all__ = ["FakeClock"]


class FakeClock:
    """Monotonic seconds that stand still until :meth:`advance`.

    ``advance(seconds)`` moves time on, then lets every live cache that reads this clock act on
    the new time before it returns: snapshots no longer fresh lose their pads (their next reader
    takes the slow path) and the refresher runs the pass due, if any. So after
    ``clock.advance(ttl)`` a cache is in the state the same wait in real time would leave it.

    >>> clock = FakeClock()
    >>> start = clock()
    >>> clock.advance(1.5)
    >>> clock() - start
    1.5
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on and let the caches reading it catch up."""
        if seconds < 0:
            raise ValueError("a monotonic clock never goes back")
        with self._lock:
            self._now += seconds
        catch_up(self)
