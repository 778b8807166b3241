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

Modules: :mod:`~ivsecrets.cache.serving` (``SecretCache``: the reader side, refresh passes,
lifecycle), :mod:`~ivsecrets.cache.loading` (store calls, back-off, events), ``snapshots``
(``_Slot``, ``_Keys``), ``threads`` (the refresher and expiry threads). Times come from the
cache's clock (``time.monotonic`` unless one is injected: ``ivsecrets.testing.FakeClock``).
"""

from __future__ import annotations

from ivsecrets.cache.loading import CacheEvent
from ivsecrets.cache.serving import SecretCache, catch_up

# What the hasher and ``Secrets`` reach into: the slot a hasher reads, the snapshot it holds.
from ivsecrets.cache.snapshots import _Keys as _Keys
from ivsecrets.cache.snapshots import _Slot as _Slot

# The HMAC construction lives in its own module; these names were importable from here.
from ivsecrets.prekeyed import PrekeyedHmac, prekeyed_mac

__all__ = ["CacheEvent", "PrekeyedHmac", "SecretCache", "catch_up", "prekeyed_mac"]
