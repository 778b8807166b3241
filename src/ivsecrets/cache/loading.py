"""The store side of a secret cache: single-flight store calls, back-off after failures, the
events and warnings they give, and the snapshots installed from what comes back.

:class:`~ivsecrets.cache.SecretCache` is the one subclass; the reader side, the refresh passes and
the cache's threads live in :mod:`ivsecrets.cache.serving`.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ivsecrets.cache.snapshots import NEVER, _Keys, _Slot
from ivsecrets.config import CacheSettings
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import SecretNotFoundError, StoreError
from ivsecrets.prekeyed import PrekeyedHmac, prekeyed_mac
from ivsecrets.provider import Provider
from ivsecrets.secret import Secret

__all__ = ["CacheEvent"]

# Messages carry no "ivsecrets:" prefix: the logger's name says where they come from (the CLI
# prints it; an application's format shows it with %(name)s).
log = logging.getLogger("ivsecrets")


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


class _Loading:
    """Loads and installs the secrets of one store's environments (the base of ``SecretCache``).

    Every store call is made under ``_fetch_lock``; ``clock`` is read for every time the cache
    keeps (a test may inject a fake one; the hot path never reads it).
    """

    slots: dict[Environment, _Slot]  # filled in by SecretCache, which the slots point back to

    def __init__(
        self,
        provider: Provider,
        settings: CacheSettings,
        on_event: Callable[[CacheEvent], None] | None,
        clock: Callable[[], float],
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.on_event = on_event
        self.clock = clock
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
        self._next_attempt = -NEVER

    def _init_locks(self) -> None:
        self._fetch_lock = threading.Lock()
        self._mark_lock = threading.Lock()  # held for a few attribute writes, never across I/O

    def previous(self, slot: _Slot) -> PrekeyedHmac | None:
        """The pre-keyed HMAC of the store's previous version, or None.

        Cached for ``ttl`` (an absent previous version too); a failed lookup is remembered for a
        back-off interval, so that wrong hashes given to ``verify`` cannot drive store calls.
        """
        cached = slot.previous
        if cached is not None and self.clock() < cached[0]:
            return cached[1]
        with self._fetch_lock:
            cached = slot.previous
            if cached is not None and self.clock() < cached[0]:
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
                slot.previous = (self.clock() + self._backoff(), mac, old)
                return mac
            mac = prekeyed_mac(secret.value.reveal()) if secret is not None else None
            slot.previous = (self.clock() + self.settings.ttl, mac, secret)
            return mac

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
        started = self.clock()
        self._counters["fetches"] += 1
        wanted = {s.environment: s.reference for s in slots}
        if refresh:
            self._counters["refresh_passes"] += 1
            current = {s.environment: s.keys.secret for s in slots if s.keys.secret is not None}
            results = self.provider.refresh_many(wanted, current)
        else:
            results = self.provider.serve_many(wanted)
        now = self.clock()
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
            self._next_attempt = -NEVER
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
