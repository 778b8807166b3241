"""``Secrets``: a configuration turned into providers, caches and hashers; and the default one.

Most backends only need ``get_hasher(platform, workspace)``, which builds the default ``Secrets``
from :func:`~ivsecrets.config.load_config` on first use. Code that wants its own configuration,
clients or metrics hook builds a ``Secrets`` itself.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ivsecrets.cache import CacheEvent, SecretCache, _Slot
from ivsecrets.config import Config, StoreConfig, load_config
from ivsecrets.environments import Environment, Platform, Stage
from ivsecrets.errors import ConfigError, StoreError
from ivsecrets.hashing import Hasher
from ivsecrets.provider import Provider, load_plugin
from ivsecrets.secret import Secret, VersionInfo

__all__ = ["EnvironmentStatus", "Secrets", "configure", "default_secrets", "get_hasher"]


@dataclass(frozen=True)
class EnvironmentStatus:
    """What a store holds for one environment: its versions by stage (never a value)."""

    environment: Environment
    store: str
    reference: str
    versions: Mapping[Stage, VersionInfo] = field(default_factory=dict)

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-ready row, with each version's age in days."""
        now = now or datetime.now(timezone.utc)
        return {
            "environment": str(self.environment),
            "store": self.store,
            "reference": self.reference,
            "versions": {
                stage.value: {
                    "version": info.version,
                    "fingerprint": info.fingerprint,
                    "created_at": info.created_at.isoformat() if info.created_at else None,
                    "age_days": _age_days(info.created_at, now),
                    "intercom_secret_id": info.intercom_secret_id,
                }
                for stage, info in self.versions.items()
            },
        }


def _age_days(created: datetime | None, now: datetime) -> float | None:
    if created is None:
        return None
    aware = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    return round((now - aware).total_seconds() / 86400, 1)


class Secrets:
    """Providers, caches and hashers for every environment of one configuration.

    ``providers`` maps store names to ready Provider instances (for injected clients); stores not
    in it are built from their plugin. ``clock`` (tests) replaces ``time.monotonic`` in every
    cache (see :class:`~ivsecrets.testing.FakeClock`). Thread-safe. Call ``close()`` to stop
    refresher threads.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        on_event: Callable[[CacheEvent], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config if config is not None else load_config()
        given = dict(providers or {})
        self.providers: dict[str, Provider] = {}
        self.caches: dict[str, SecretCache] = {}
        grouped = self.config.by_store()
        now = clock if clock is not None else time.monotonic
        for name, store in self.config.stores.items():
            references = grouped.get(name, {})
            if not references and name not in given:
                continue
            provider = given.pop(name, None) or _plugin_of(store)(store)
            self.providers[name] = provider
            self.caches[name] = SecretCache(provider, references, store.cache, on_event, clock=now)
        # Keyed by the canonical (platform, workspace) strings only, so it never holds more
        # entries than the configuration has environments, however callers spell them.
        self._hashers: dict[tuple[str, str], Hasher] = {}

    def __repr__(self) -> str:
        return f"Secrets(source={self.config.source!r}, stores={sorted(self.providers)})"

    def hasher(self, platform: str | Platform, workspace: str) -> Hasher:
        """The hasher of one environment. ConfigError if the environment is not configured."""
        try:
            return self._hashers[platform, workspace]
        except KeyError:
            pass
        hasher = self._hashers.get(_folded(platform, workspace))
        if hasher is not None:
            return hasher
        ec = self.config.environment(platform, workspace)
        # setdefault: two threads building the same hasher end up sharing the first one.
        return self._hashers.setdefault(
            _canonical(ec.environment), Hasher(self.caches[ec.store].slots[ec.environment])
        )

    def provider(self, environment: Environment) -> Provider:
        """The provider that holds ``environment``'s secret."""
        return self.providers[self.config.environments[environment].store]

    def load(
        self, platform: str | Platform, workspace: str, stage: Stage = Stage.current
    ) -> Secret:
        """Read one version straight from the store, bypassing the cache."""
        ec = self.config.environment(platform, workspace)
        return self.providers[ec.store].load(ec.environment, ec.reference, stage)

    def current(
        self, environments: Iterable[Environment] | None = None
    ) -> dict[Environment, Secret | StoreError]:
        """The current secret of each environment straight from its store, bypassing the cache:
        one batched read per store, stores read concurrently; a failure comes back as its error."""
        from concurrent.futures import (
            ThreadPoolExecutor,
        )  # not at import: a backend never calls this

        by_store = self.config.by_store(environments)

        def load(store: str) -> dict[Environment, Secret | StoreError]:
            return self.providers[store].load_many(by_store[store])

        results: dict[Environment, Secret | StoreError] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(by_store))) as pool:
            for part in pool.map(load, list(by_store)):
                results.update(part)
        return results

    def versions(self, platform: str | Platform, workspace: str) -> dict[Stage, VersionInfo]:
        """The current, previous and pending versions the store holds for one environment."""
        ec = self.config.environment(platform, workspace)
        by_stage: dict[Stage, VersionInfo] = {}
        for info in self.providers[ec.store].versions(ec.environment, ec.reference):
            for stage in info.stages:
                by_stage.setdefault(stage, info)
        return by_stage

    def status(self) -> list[EnvironmentStatus]:
        """Every configured environment with the versions its store holds (no values)."""
        return [
            EnvironmentStatus(
                env, ec.store, ec.reference, self.versions(env.platform, env.workspace)
            )
            for env, ec in self.config.environments.items()
        ]

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


def _plugin_of(store: StoreConfig) -> type[Provider]:
    """The plugin class of ``store``; an unknown plugin is reported at its key in its file."""
    try:
        return load_plugin(store.plugin)
    except ConfigError as err:
        if err.file is not None or err.key is not None:
            raise
        problem, fix = err.problem, err.fix
    if "plugin" in store.option_sources:
        raise store.error("plugin", problem, fix)
    # No plugin = in the table: its name is taken as the plugin's.
    table = store.table_key or f"stores.{store.name}"
    raise ConfigError(
        f"{problem} (the table sets no plugin, so its name is taken as one)",
        file=store.source,
        key=table,
        fix=f"set plugin = in [{table}]; {fix}" if fix else None,
    )


def _folded(platform: str | Platform, workspace: str) -> tuple[str, str]:
    """Another spelling ("IOS", " prod") folded as ``Environment.of`` folds it, without building
    one (a tenth of the cost): looked up on every call, never stored."""
    return str(platform).strip().lower(), str(workspace).strip().lower()


def _canonical(environment: Environment) -> tuple[str, str]:
    # Platform is a str enum whose hash and equality are its value's, so a caller passing
    # Platform.ios or "ios" hits the same key.
    return environment.platform.value, environment.workspace


_default: Secrets | None = None
_default_lock = threading.Lock()
# Canonical (platform, workspace) -> the default's Hasher; read without a lock. Only canonical
# keys are stored: other spellings take the slow path each time instead of growing the dict.
_HASHERS: dict[tuple[str, str], Hasher] = {}
# Every hasher the default handed out; configure() points them at the new default.
_HANDED_OUT: weakref.WeakSet[Hasher] = weakref.WeakSet()


def get_hasher(platform: str | Platform, workspace: str) -> Hasher:
    """The hasher of one environment from the default configuration (built on first use).

    A hasher kept across :func:`configure` follows the new default from its next call.

    >>> get_hasher("ios", "prod").user_hash(user_id="42")  # doctest: +SKIP
    """
    try:
        return _HASHERS[platform, workspace]
    except KeyError:
        pass
    hasher = _HASHERS.get(_folded(platform, workspace))
    return hasher if hasher is not None else _default_hasher(platform, workspace)


def _default_hasher(platform: str | Platform, workspace: str) -> Hasher:
    # Under the lock, so a configure() running meanwhile cannot leave an old hasher cached.
    with _default_lock:
        hasher = _built_default().hasher(platform, workspace)
        _HASHERS[_canonical(hasher.environment)] = hasher
        _HANDED_OUT.add(hasher)
        return hasher


def _default_slot(environment: Environment) -> _Slot:
    """The slot the current default holds for ``environment`` (where a kept hasher rebinds)."""
    return _default_hasher(environment.platform, environment.workspace)._slot


def _built_default() -> Secrets:
    """The default, built on first use; the caller holds ``_default_lock``."""
    global _default
    if _default is None:
        _default = Secrets()
    return _default


def configure(config: Config | Secrets | None = None) -> Secrets | None:
    """Replace the default behind ``get_hasher`` (None: rebuild lazily from ``load_config``).

    The previous default is closed; the hashers it handed out follow the new default from their
    next call. Returns the new default, if one was given.
    """
    global _default
    with _default_lock:
        old, _default = _default, None
        if isinstance(config, Secrets):
            _default = config
        elif config is not None:
            _default = Secrets(config)
        _HASHERS.clear()
        if old is not _default:
            kept = list(_HANDED_OUT) + (list(old._hashers.values()) if old is not None else [])
            for hasher in kept:
                hasher._follow(_default_slot)
    if old is not None and old is not _default:
        old.close()
    return _default


def default_secrets() -> Secrets:
    """The default ``Secrets`` (built from ``load_config()`` on first use)."""
    with _default_lock:
        return _built_default()
