"""``Secrets``: a configuration turned into providers, caches and hashers; and the default one.

Most backends only need ``get_hasher(platform, workspace)``, which builds the default ``Secrets``
from :func:`~ivsecrets.config.load_config` on first use. Code that wants its own configuration,
clients or metrics hook builds a ``Secrets`` itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from ivsecrets.cache import CacheEvent, SecretCache
from ivsecrets.config import Config, load_config
from ivsecrets.environments import Environment, Platform, Stage
from ivsecrets.hashing import Hasher
from ivsecrets.provider import Provider, load_plugin
from ivsecrets.secret import Secret

__all__ = ["Secrets", "configure", "get_hasher"]


class Secrets:
    """Providers, caches and hashers for every environment of one configuration.

    ``providers`` maps store names to ready Provider instances (for injected clients); stores not
    in it are built from their plugin. Thread-safe. Call ``close()`` to stop refresher threads.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        on_event: Callable[[CacheEvent], None] | None = None,
    ) -> None:
        self.config = config if config is not None else load_config()
        given = dict(providers or {})
        self.providers: dict[str, Provider] = {}
        self.caches: dict[str, SecretCache] = {}
        for name, store in self.config.stores.items():
            references = {
                env: ec.reference
                for env, ec in self.config.environments.items()
                if ec.store == name
            }
            if not references and name not in given:
                continue
            provider = given.pop(name, None) or load_plugin(store.plugin)(store)
            self.providers[name] = provider
            self.caches[name] = SecretCache(provider, references, store.cache, on_event)
        self._hashers: dict[Any, Hasher] = {}

    def __repr__(self) -> str:
        return f"Secrets(source={self.config.source!r}, stores={sorted(self.providers)})"

    def hasher(self, platform: str | Platform, workspace: str) -> Hasher:
        """The hasher of one environment. ConfigError if the environment is not configured."""
        try:
            return self._hashers[platform, workspace]
        except KeyError:
            pass
        ec = self.config.environment(platform, workspace)
        hasher = self._hashers.get(ec.environment)
        if hasher is None:
            hasher = Hasher(self.caches[ec.store].slots[ec.environment])
            self._hashers[ec.environment] = hasher
        self._hashers[platform, workspace] = hasher
        return hasher

    def provider(self, environment: Environment) -> Provider:
        """The provider that holds ``environment``'s secret."""
        return self.providers[self.config.environments[environment].store]

    def load(
        self, platform: str | Platform, workspace: str, stage: Stage = Stage.current
    ) -> Secret:
        """Read one version straight from the store, bypassing the cache."""
        ec = self.config.environment(platform, workspace)
        return self.providers[ec.store].load(ec.environment, ec.reference, stage)

    def refresh(self) -> None:
        """Reload every environment now (e.g. right after a rotation)."""
        for cache in self.caches.values():
            cache.refresh()

    def stats(self) -> dict[str, dict[str, int]]:
        """Cache counters per store."""
        return {name: cache.stats() for name, cache in self.caches.items()}

    def close(self) -> None:
        """Stop background refreshers and drop store clients."""
        for cache in self.caches.values():
            cache.close()


_default: Secrets | None = None
_default_lock = threading.Lock()
# (platform, workspace) as the caller spelled them -> Hasher; read without a lock.
_HASHERS: dict[Any, Hasher] = {}


def get_hasher(platform: str | Platform, workspace: str) -> Hasher:
    """The hasher of one environment from the default configuration (built on first use).

    >>> get_hasher("ios", "prod").user_hash(user_id="42")  # doctest: +SKIP
    """
    try:
        return _HASHERS[platform, workspace]
    except KeyError:
        return _default_hasher(platform, workspace)


def _default_hasher(platform: str | Platform, workspace: str) -> Hasher:
    # Under the lock, so a configure() running meanwhile cannot leave an old hasher cached.
    with _default_lock:
        hasher = _built_default().hasher(platform, workspace)
        _HASHERS[platform, workspace] = hasher
        return hasher


def _built_default() -> Secrets:
    """The default, built on first use; the caller holds ``_default_lock``."""
    global _default
    if _default is None:
        _default = Secrets()
    return _default


def configure(config: Config | Secrets | None = None) -> Secrets | None:
    """Replace the default behind ``get_hasher`` (None: rebuild lazily from ``load_config``).

    The previous default is closed. Returns the new default, if one was given.
    """
    global _default
    with _default_lock:
        old, _default = _default, None
        if isinstance(config, Secrets):
            _default = config
        elif config is not None:
            _default = Secrets(config)
        _HASHERS.clear()
    if old is not None and old is not _default:
        old.close()
    return _default


def default_secrets() -> Secrets:
    """The default ``Secrets`` (built from ``load_config()`` on first use)."""
    with _default_lock:
        return _built_default()
