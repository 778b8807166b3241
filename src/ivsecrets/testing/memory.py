"""An in-memory store for cache tests: a real Provider subclass whose backend a test can break.

It stands in for the network store only (latency, outages, call counts); every ivsecrets code path
above ``_fetch`` runs for real, and it meets :class:`~ivsecrets.testing.ProviderContract`. Stores
with real servers are tested against those servers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

from ivsecrets.config import CacheSettings, StoreConfig
from ivsecrets.environments import Stage
from ivsecrets.errors import SecretNotFoundError, StoreUnavailableError
from ivsecrets.provider import Fetched, Provider, Reference

__all__ = ["MemoryStore"]


class MemoryStore(Provider):
    """Secrets in dicts: ``values`` (current) and ``previous``, by reference name.

    Set ``down`` to make every call fail as an unreachable store would, ``latency`` to slow calls
    down; ``calls``, ``fetched`` (per reference name) and ``resets`` count what the cache did.
    """

    plugin = "memory"

    def __init__(
        self, values: Mapping[str, str], *, latency: float = 0.0, name: str = "memory"
    ) -> None:
        super().__init__(StoreConfig(name, "memory", cache=CacheSettings()))
        self.values = dict(values)
        self.previous: dict[str, str] = {}
        self.latency = latency
        self.down = False
        self.calls = 0
        self.fetched: dict[str, int] = {}
        self.resets = 0
        self._lock = threading.Lock()

    def _count(self, refs: Sequence[Reference]) -> None:
        with self._lock:
            self.calls += 1
            for ref in refs:
                self.fetched[ref.name] = self.fetched.get(ref.name, 0) + 1
        if self.latency:
            time.sleep(self.latency)
        if self.down:
            raise ConnectionError("store is down")

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        self._count([ref])
        source = self.values if stage is Stage.current else self.previous
        if ref.name not in source:
            raise SecretNotFoundError(f"no secret {ref.name}")
        return Fetched(source[ref.name], version=f"v-{source[ref.name][-4:]}", stage=stage)

    def _fetch_current_many(
        self, refs: Sequence[Reference]
    ) -> Mapping[Reference, Fetched | Exception]:
        self._count(refs)
        return {
            ref: Fetched(self.values[ref.name])
            if ref.name in self.values
            else SecretNotFoundError(f"no secret {ref.name}")
            for ref in refs
        }

    def _translate(self, err: Exception) -> StoreUnavailableError | None:
        return (
            StoreUnavailableError("memory store unreachable")
            if isinstance(err, ConnectionError)
            else None
        )

    def reset(self) -> None:
        super().reset()
        self.resets += 1
