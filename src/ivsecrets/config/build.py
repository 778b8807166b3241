"""Building a :class:`~ivsecrets.config.model.Config` from a TOML document, checking every key.

The document is the merged one (``extends`` already applied); every error is a ConfigError that
names the file and key at fault and what would be valid. The stores (built-in plugins need no
table), each environment's store, reference, pin and known hashes, and the cache settings are
read here; each workspace's Intercom settings in :mod:`ivsecrets.config.workspace`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivsecrets.config import plugins
from ivsecrets.config.model import (
    FINGERPRINT_PATTERN,
    WORKSPACE_PATTERN,
    CacheSettings,
    Config,
    EnvironmentConfig,
    KnownHash,
    StoreConfig,
    WorkspaceConfig,
)
from ivsecrets.config.origins import Origins, Table
from ivsecrets.config.workspace import workspace_settings
from ivsecrets.environments import DEFAULT_WORKSPACES, Environment, Platform
from ivsecrets.errors import closest, quoted

__all__ = ["build"]


def build(
    data: dict[str, Any],
    origins: Origins,
    source: str,
    path: Path | None,
    *,
    files: tuple[str, ...] = (),
) -> Config:
    """The Config ``data`` describes; ``source`` and ``path`` name where it was read."""
    root = Table(data, origins, ())
    root.only(
        "platforms",
        "workspaces",
        "store",
        "reference",
        "cache",
        "stores",
        "workspace",
        "environments",
    )
    platforms = root.get_platforms("platforms", tuple(Platform))
    if "workspaces" in data and isinstance(data["workspaces"], dict):
        raise root.error(
            "workspaces",
            "must be a list of workspace names; per-workspace "
            "settings go in [workspace.NAME] tables",
            fix='workspaces = ["test", "prod"]',
        )
    workspace_names = root.get_str_list("workspaces", DEFAULT_WORKSPACES)
    for name in workspace_names:
        if not WORKSPACE_PATTERN.fullmatch(name):
            raise root.error(
                "workspaces",
                f"invalid workspace name {quoted(name)}",
                fix="use lower-case letters, digits, '-' and '_'",
            )
    if not workspace_names:
        raise root.error("workspaces", "must name at least one workspace")
    cache = _cache_settings(root.table("cache"), CacheSettings())
    stores = _Stores(root.table("stores"), cache)
    first = "env" if "env" in stores.defined or not stores.defined else next(iter(stores.defined))
    default_store = stores.resolve(root, "store", root.get("store", str, first))
    default_reference = root.get("reference", str, "")
    settings = workspace_settings(root.table("workspace"), workspace_names, platforms)
    environments = _environments(root, settings, stores, default_store, default_reference)
    return Config(
        platforms=platforms,
        workspaces=workspace_names,
        workspace_settings=MappingProxyType(settings),
        stores=MappingProxyType(stores.used()),
        environments=MappingProxyType(environments),
        cache=cache,
        source=source,
        path=path,
        files=files or (source,),
        key_prefix=origins.prefixes.get(origins.default, ""),
    )


class _Stores:
    """The ``[stores.NAME]`` tables, and the built-in plugins used by name without a table."""

    def __init__(self, table: Table, cache: CacheSettings) -> None:
        self.cache = cache
        self.defined: dict[str, StoreConfig] = {}
        self.implicit: dict[str, StoreConfig] = {}
        for name in table.data:
            store = table.table(name)
            plugin = store.get("plugin", str, name)
            store_cache = _cache_settings(store.table("cache"), cache)
            options = {k: v for k, v in store.data.items() if k not in ("plugin", "cache")}
            self.defined[name] = StoreConfig(
                name,
                plugin,
                MappingProxyType(options),
                store_cache,
                store.file,
                MappingProxyType({option: store.file_of(option) for option in store.data}),
                store.key,
                MappingProxyType({option: store.path(option) for option in store.data}),
            )

    def resolve(self, table: Table, key: str, name: str) -> str:
        """``name`` as the store at ``key`` of ``table``: a defined store or a built-in plugin.

        A built-in plugin's name (env, file, aws, gcp, vault) needs no table: it is that plugin
        with its default options. Anything else is a ConfigError with a did-you-mean.
        """
        if name in self.defined or name in self.implicit:
            return name
        if name in plugins.plugin_entry_points():
            self.implicit[name] = StoreConfig(
                name, name, cache=self.cache, source=table.file_of(key)
            )
            return name
        known = list(dict.fromkeys([*self.defined, *sorted(plugins.plugin_entry_points())]))
        shown = quoted(name)
        hidden = shown != repr(name)  # possibly a pasted secret: never echoed, not even in the fix
        close = [] if hidden else closest(name, known)
        bare = not hidden and _BARE_KEY.fullmatch(name)
        table_name = f"[stores.{name}]" if bare else "[stores.NAME]"
        raise table.error(
            key,
            f"no store named {shown}",
            fix=(f"did you mean {close[0]!r}? " if close else "")
            + f"define it as a {table_name} table, or use one of: "
            + ", ".join(known),
        )

    def used(self) -> dict[str, StoreConfig]:
        return {**self.defined, **self.implicit}


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _environments(
    root: Table,
    settings: Mapping[str, WorkspaceConfig],
    stores: _Stores,
    default_store: str,
    default_reference: str,
) -> dict[Environment, EnvironmentConfig]:
    overrides = root.table("environments")
    for platform_name in overrides.data:
        try:
            platform = Platform.parse(platform_name)
        except ValueError as err:
            raise overrides.error(platform_name, str(err)) from None
        for workspace in overrides.table(platform_name).data:
            ws = settings.get(workspace)
            if ws is None or platform not in ws.platforms:
                close = closest(workspace, list(settings)) if ws is None else []
                raise overrides.error(
                    f"{platform_name}.{workspace}",
                    f"environment {platform.value}/{workspace} is not one this configuration "
                    "expects",
                    fix=(f"did you mean {close[0]!r}? " if close else "")
                    + "add the workspace to workspaces and the platform to its "
                    "platforms, or remove this table",
                )
    environments = {}
    for ws in settings.values():
        for platform in ws.platforms:
            env = Environment(platform, ws.name)
            table = overrides.table(platform.value).table(ws.name)
            table.only(
                "store",
                "reference",
                "fingerprint",
                "intercom_secret_id",
                "known_hashes",
                "max_age_days",
            )
            store = default_store
            if "store" in table.data:
                store = stores.resolve(table, "store", table.get("store", str, default_store))
            plugin = stores.used()[store].plugin
            template = table.get("reference", str, default_reference) or plugins.default_reference(
                plugin
            )
            if not template:
                raise table.error(
                    "reference",
                    f"store {quoted(store)} uses plugin {quoted(plugin)}, which has no default "
                    "reference",
                    fix='set reference = "..." (top level or per environment)',
                )
            pin = table.get("fingerprint", str, "") or None
            if pin is not None and not FINGERPRINT_PATTERN.fullmatch(pin):
                raise table.error(
                    "fingerprint",
                    "not a fingerprint",
                    fix="paste the value 'ivsecrets fingerprint' prints (ivfp1: and 16 hex digits)",
                )
            max_age = table.get("max_age_days", float, -1.0)
            environments[env] = EnvironmentConfig(
                environment=env,
                store=store,
                reference=env.expand(template),
                fingerprint=pin,
                intercom_secret_id=table.get("intercom_secret_id", str, "") or None,
                known_hashes=_known_hashes(table),
                max_age_days=max_age if max_age >= 0 else None,
            )
    return environments


def _known_hashes(table: Table) -> tuple[KnownHash, ...]:
    raw = table.data.get("known_hashes", [])
    if not isinstance(raw, list):
        raise table.error(
            "known_hashes",
            "must be an array of tables",
            fix='[[environments.P.W.known_hashes]] user_id = "42" user_hash = "..."',
        )
    result = []
    for index, item in enumerate(raw):
        entry = table.entry("known_hashes", index, item)
        entry.only("user_id", "email", "user_hash")
        user_hash = entry.get("user_hash", str, "")
        user_id = entry.get("user_id", str, "") or None
        email = entry.get("email", str, "") or None
        if not re.fullmatch(r"[0-9a-fA-F]{64}", user_hash):
            raise entry.error("user_hash", "must be the 64 hex digits of a user_hash")
        if user_id is None and email is None:
            raise entry.error("user_id", "a known hash needs user_id or email")
        result.append(KnownHash(user_hash=user_hash, user_id=user_id, email=email))
    return tuple(result)


def _cache_settings(table: Table, base: CacheSettings) -> CacheSettings:
    table.only("ttl", "jitter", "refresh_ahead", "max_stale", "backoff_base", "backoff_max")
    values = {
        name: table.get(name, float, getattr(base, name))
        for name in ("ttl", "jitter", "refresh_ahead", "max_stale", "backoff_base", "backoff_max")
    }
    for name, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise table.error(name, f"must be a non-negative number of seconds, got {value}")
    if values["ttl"] <= 0:
        raise table.error("ttl", "must be greater than 0", fix="ttl = 300")
    for fraction in ("jitter", "refresh_ahead"):
        if not 0 <= values[fraction] <= 1:
            raise table.error(fraction, "must be a fraction between 0 and 1")
    return CacheSettings(**values)
