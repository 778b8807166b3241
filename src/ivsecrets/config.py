"""Loading and validating the ivsecrets configuration.

Where it comes from, first match wins: the ``path`` given (``--config``), ``$IVSECRETS_CONFIG``,
``./ivsecrets.toml``, ``[tool.ivsecrets]`` in ``./pyproject.toml``, else the embedded default, which
reads each secret from the environment variable ``IVSECRETS_<PLATFORM>_<WORKSPACE>``.

Every error is a :class:`~ivsecrets.errors.ConfigError` naming the file, the key and what would be
valid. The result is immutable; a new configuration means a new :class:`Config`.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from ivsecrets.environments import DEFAULT_WORKSPACES, Environment, Platform
from ivsecrets.errors import ConfigError, quoted

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_REFERENCES",
    "EMBEDDED_DEFAULT",
    "CacheSettings",
    "Config",
    "EnvironmentConfig",
    "KnownHash",
    "StoreConfig",
    "WorkspaceConfig",
    "load_config",
    "parse_config",
]

EMBEDDED_DEFAULT = "<embedded default>"
CONFIG_ENV_VAR = "IVSECRETS_CONFIG"
FINGERPRINT_PATTERN = re.compile(r"^ivfp1:[0-9a-f]{16}$")
WORKSPACE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
# Intercom app ids are short lower-case alphanumerics (e.g. "abc12def"); others are paste errors.
APP_ID_PATTERN = re.compile(r"^[a-z0-9]{4,16}$")
INTERCOM_REGIONS = ("us", "eu", "au")

# The reference template each built-in store uses when the configuration names none. The Terraform
# modules create secrets under these same names, so module and library agree without extra config.
DEFAULT_REFERENCES: Mapping[str, str] = MappingProxyType(
    {
        "env": "IVSECRETS_{PLATFORM}_{WORKSPACE}",
        "file": "{platform}_{workspace}",
        "aws": "ivsecrets-{workspace}-{platform}",
        "gcp": "ivsecrets-{workspace}-{platform}",
        "vault": "ivsecrets/{workspace}/{platform}",
    }
)


@dataclass(frozen=True)
class CacheSettings:
    """How long loaded secrets are served and what happens when the store fails (seconds)."""

    ttl: float = 300.0
    jitter: float = 0.1
    refresh_ahead: float = 0.8
    max_stale: float = 3600.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True)
class StoreConfig:
    """One configured secret store: which plugin, its options, its cache settings."""

    name: str
    plugin: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    cache: CacheSettings = field(default_factory=CacheSettings)
    source: str = EMBEDDED_DEFAULT

    def error(self, option: str, message: str, fix: str | None = None) -> ConfigError:
        """A ConfigError about one of this store's options, naming file and key."""
        return ConfigError(message, file=self.source, key=f"stores.{self.name}.{option}", fix=fix)


@dataclass(frozen=True)
class KnownHash:
    """A recorded (identifier, user_hash) pair the environment's secret must reproduce."""

    user_hash: str
    user_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class EnvironmentConfig:
    """Where one environment's secret lives and what we know about it."""

    environment: Environment
    store: str
    reference: str
    fingerprint: str | None = None
    intercom_secret_id: str | None = None
    known_hashes: tuple[KnownHash, ...] = ()
    max_age_days: float | None = None


@dataclass(frozen=True)
class WorkspaceConfig:
    """An Intercom workspace: its platforms, API region and where its API token is."""

    name: str
    platforms: tuple[Platform, ...]
    intercom_region: str = "us"
    intercom_token_env: str = ""
    intercom_base_url: str | None = None
    app_id: str | None = None


@dataclass(frozen=True, eq=False)
class Config:
    """A validated configuration: every environment mapped to a store and a reference."""

    platforms: tuple[Platform, ...]
    workspaces: tuple[str, ...]
    workspace_settings: Mapping[str, WorkspaceConfig]
    stores: Mapping[str, StoreConfig]
    environments: Mapping[Environment, EnvironmentConfig]
    cache: CacheSettings
    source: str = EMBEDDED_DEFAULT
    path: Path | None = None

    def environment(self, platform: str | Platform, workspace: str) -> EnvironmentConfig:
        """The configuration of one environment; ConfigError if it is not configured."""
        try:
            env = Environment.of(platform, workspace)
        except ValueError as err:
            raise ConfigError(str(err), file=self.source) from None
        try:
            return self.environments[env]
        except KeyError:
            configured = ", ".join(str(e) for e in self.environments) or "none"
            raise ConfigError(
                f"environment {env} is not configured (configured: {configured})",
                file=self.source,
                key="workspaces" if env.workspace not in self.workspaces else "platforms",
                fix=f"add '{env.workspace}' to workspaces and '{env.platform}' to its platforms",
            ) from None

    def by_store(
        self, environments: Iterable[Environment] | None = None
    ) -> dict[str, dict[Environment, str]]:
        """``{store: {environment: reference}}`` for the given (default: all) environments."""
        grouped: dict[str, dict[Environment, str]] = {}
        for env in self.environments if environments is None else environments:
            ec = self.environments[env]
            grouped.setdefault(ec.store, {})[env] = ec.reference
        return grouped

    def expected_environments(self) -> tuple[Environment, ...]:
        """Every environment the workspaces and their platforms call for, in a stable order."""
        return tuple(
            Environment(p, ws.name) for ws in self.workspace_settings.values() for p in ws.platforms
        )


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Find, read and validate the configuration (see the module docstring for the order).

    Raises ConfigError when a named file is missing or invalid.
    """
    if path is None and os.environ.get(CONFIG_ENV_VAR):
        path = os.environ[CONFIG_ENV_VAR]
        origin = f"${CONFIG_ENV_VAR}"
    else:
        origin = "--config"
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(
                f"configuration file not found ({origin})",
                file=str(file),
                fix="create it with 'ivsecrets init' or point to an existing file",
            )
        return _parse_file(file)
    local = Path("ivsecrets.toml")
    if local.is_file():
        return _parse_file(local)
    pyproject = Path("pyproject.toml")
    if pyproject.is_file():
        data = _read_toml(pyproject.read_text(encoding="utf-8"), str(pyproject))
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "ivsecrets" in tool:
            return _build(tool["ivsecrets"], f"{pyproject} [tool.ivsecrets]", pyproject)
    return _build({}, EMBEDDED_DEFAULT, None)


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate configuration given as TOML text; ``source`` names it in errors."""
    return _build(_read_toml(text, source), source, None)


def _parse_file(file: Path) -> Config:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read configuration: {err.strerror}", file=str(file)) from None
    return _build(_read_toml(text, str(file)), str(file), file)


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"not valid TOML: {err}",
            file=source,
            fix="correct the TOML syntax at the position shown",
        ) from None
    return data


T = TypeVar("T")


class _Table:
    """A TOML table being validated: knows its file and dotted key, for error messages."""

    def __init__(self, data: object, source: str, key: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(
                f"must be a table, got {type(data).__name__}",
                file=source,
                key=key or None,
                fix=f"write it as [{key}]",
            )
        self.data: dict[str, Any] = data
        self.source = source
        self.key = key

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, message: str, fix: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.source, key=self.path(name), fix=fix)

    def only(self, *allowed: str) -> None:
        for name in self.data:
            if name not in allowed:
                raise self.error(name, "unknown key", fix="valid keys here: " + ", ".join(allowed))

    def get(self, name: str, kind: type[T], default: T) -> T:
        if name not in self.data:
            return default
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            shown = quoted(value)
            raise self.error(name, f"must be a {kind.__name__}, got {shown}")
        return value

    def get_str_list(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.data.get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "must be a list of strings", fix=f'{name} = ["..."]')
        return tuple(value)

    def table(self, name: str) -> _Table:
        return _Table(self.data.get(name, {}), self.source, self.path(name))


def _cache_settings(table: _Table, base: CacheSettings) -> CacheSettings:
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


def _platforms(table: _Table, name: str, default: tuple[Platform, ...]) -> tuple[Platform, ...]:
    names = table.get_str_list(name, tuple(p.value for p in default))
    try:
        platforms = tuple(dict.fromkeys(Platform.parse(n) for n in names))
    except ValueError as err:
        raise table.error(name, str(err)) from None
    return platforms


def _build(data: dict[str, Any], source: str, path: Path | None) -> Config:
    root = _Table(data, source, "")
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
    platforms = _platforms(root, "platforms", tuple(Platform))
    if "workspaces" in data and isinstance(data["workspaces"], dict):
        raise root.error(
            "workspaces",
            "must be a list of workspace names; per-workspace "
            "settings go in [workspace.NAME] tables",
            fix='workspaces = ["test", "prod"]',
        )
    workspace_names = root.get_str_list("workspaces", DEFAULT_WORKSPACES)
    for name in workspace_names:
        if not WORKSPACE_PATTERN.match(name):
            raise root.error(
                "workspaces",
                f"invalid workspace name {quoted(name)}",
                fix="use lower-case letters, digits, '-' and '_'",
            )
    if not workspace_names:
        raise root.error("workspaces", "must name at least one workspace")
    cache = _cache_settings(root.table("cache"), CacheSettings())
    stores = _stores(root.table("stores"), cache)
    default_store = root.get("store", str, "env" if "env" in stores else next(iter(stores)))
    if default_store not in stores:
        raise root.error(
            "store",
            f"no store named {quoted(default_store)}",
            fix="define it as [stores." + default_store + "] or use one of: " + ", ".join(stores),
        )
    default_reference = root.get("reference", str, "")
    settings = _workspace_settings(root.table("workspace"), workspace_names, platforms)
    environments = _environments(root, settings, stores, default_store, default_reference)
    return Config(
        platforms=platforms,
        workspaces=workspace_names,
        workspace_settings=MappingProxyType(settings),
        stores=MappingProxyType(stores),
        environments=MappingProxyType(environments),
        cache=cache,
        source=source,
        path=path,
    )


def _stores(table: _Table, cache: CacheSettings) -> dict[str, StoreConfig]:
    stores: dict[str, StoreConfig] = {}
    for name in table.data:
        store = table.table(name)
        plugin = store.get("plugin", str, name)
        store_cache = _cache_settings(store.table("cache"), cache)
        options = {k: v for k, v in store.data.items() if k not in ("plugin", "cache")}
        stores[name] = StoreConfig(
            name, plugin, MappingProxyType(options), store_cache, table.source
        )
    if not stores:
        stores["env"] = StoreConfig("env", "env", cache=cache, source=table.source)
    return stores


def _workspace_settings(
    table: _Table, names: tuple[str, ...], platforms: tuple[Platform, ...]
) -> dict[str, WorkspaceConfig]:
    for name in table.data:
        if name not in names:
            raise table.error(
                name,
                f"workspace {quoted(name)} is not in workspaces",
                fix=f"add {quoted(name)} to workspaces = [...] or remove this table",
            )
    settings = {}
    for name in names:
        ws = table.table(name)
        ws.only("platforms", "intercom_region", "intercom_token_env", "intercom_base_url", "app_id")
        region = ws.get("intercom_region", str, "us")
        if region not in INTERCOM_REGIONS:
            raise ws.error(
                "intercom_region",
                f"unknown Intercom region {quoted(region)}",
                fix="one of: " + ", ".join(INTERCOM_REGIONS),
            )
        settings[name] = WorkspaceConfig(
            name=name,
            platforms=_platforms(ws, "platforms", platforms),
            intercom_region=region,
            intercom_token_env=ws.get(
                "intercom_token_env",
                str,
                f"IVSECRETS_INTERCOM_TOKEN_{name.upper().replace('-', '_')}",
            ),
            intercom_base_url=ws.get("intercom_base_url", str, "") or None,
            app_id=_app_id(ws),
        )
    return settings


def _app_id(ws: _Table) -> str | None:
    app_id = ws.get("app_id", str, "")
    if app_id and not APP_ID_PATTERN.match(app_id):
        raise ws.error(
            "app_id",
            f"not an Intercom app id: {quoted(app_id)}",
            fix="paste the app id from Intercom's Messenger settings "
            '(4-16 lower-case letters and digits, e.g. app_id = "abc12def")',
        )
    return app_id or None


def _environments(
    root: _Table,
    settings: Mapping[str, WorkspaceConfig],
    stores: Mapping[str, StoreConfig],
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
                raise overrides.error(
                    f"{platform_name}.{workspace}",
                    f"environment {platform.value}/{workspace} is not one this configuration "
                    "expects",
                    fix="add the workspace to workspaces and the platform to its "
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
            store = table.get("store", str, default_store)
            if store not in stores:
                raise table.error(
                    "store", f"no store named {quoted(store)}", fix="one of: " + ", ".join(stores)
                )
            template = table.get("reference", str, default_reference) or DEFAULT_REFERENCES.get(
                stores[store].plugin, ""
            )
            if not template:
                raise table.error(
                    "reference",
                    f"store {quoted(store)} uses plugin "
                    f"{stores[store].plugin!r}, which has no default reference",
                    fix='set reference = "..." (top level or per environment)',
                )
            pin = table.get("fingerprint", str, "") or None
            if pin is not None and not FINGERPRINT_PATTERN.match(pin):
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


def _known_hashes(table: _Table) -> tuple[KnownHash, ...]:
    raw = table.data.get("known_hashes", [])
    if not isinstance(raw, list):
        raise table.error(
            "known_hashes",
            "must be an array of tables",
            fix='[[environments.P.W.known_hashes]] user_id = "42" user_hash = "..."',
        )
    result = []
    for index, item in enumerate(raw):
        entry = _Table(item, table.source, table.path(f"known_hashes[{index}]"))
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
