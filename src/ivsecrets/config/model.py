"""The configuration's model: immutable values a validated configuration is made of.

:class:`Config` maps every environment to a store and a reference (:class:`EnvironmentConfig`),
with the stores (:class:`StoreConfig`), the cache settings (:class:`CacheSettings`) and each
workspace's Intercom settings (:class:`WorkspaceConfig`). Nothing here reads a file: see
:mod:`ivsecrets.config.files` for where a configuration comes from and
:mod:`ivsecrets.config.build` for how a document becomes one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivsecrets.environments import Environment, Platform
from ivsecrets.errors import ConfigError, closest

__all__ = [
    "CONFIG_ENV_VAR",
    "EMBEDDED_DEFAULT",
    "FINGERPRINT_PATTERN",
    "WORKSPACE_PATTERN",
    "CacheSettings",
    "Config",
    "EnvironmentConfig",
    "KnownHash",
    "StoreConfig",
    "WorkspaceConfig",
]

EMBEDDED_DEFAULT = "<embedded default>"
CONFIG_ENV_VAR = "IVSECRETS_CONFIG"
# Use these with fullmatch: in Python "$" also matches before a trailing newline, so .match would
# take "prod\n". FINGERPRINT_PATTERN ends in \Z, safe with any call. WORKSPACE_PATTERN keeps "^...$"
# because the Terraform modules validate workspace names with the same text (RE2, where "$" is the
# end of the text) and tests/terraform keeps the two identical.
FINGERPRINT_PATTERN = re.compile(r"\Aivfp1:[0-9a-f]{16}\Z")
WORKSPACE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")


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
    # The file each option was read from, when files extend one another (else ``source``), and
    # the table's full key (``tool.ivsecrets.stores.NAME`` in a pyproject.toml).
    option_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    table_key: str = ""
    option_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def error(self, option: str, message: str, fix: str | None = None) -> ConfigError:
        """A ConfigError about one of this store's options, naming file and key."""
        return ConfigError(
            message,
            file=self.option_sources.get(option, self.source),
            key=self.option_keys.get(option)
            or f"{self.table_key or 'stores.' + self.name}.{option}",
            fix=fix,
        )


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
    allow_custom_intercom_host: bool = False


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
    # Every file read, the one named first, then those it extends; and the prefix of every key
    # (``tool.ivsecrets.`` in a pyproject.toml).
    files: tuple[str, ...] = ()
    key_prefix: str = ""

    def environment(self, platform: str | Platform, workspace: str) -> EnvironmentConfig:
        """The configuration of one environment; ConfigError if it is not configured."""
        file = str(self.path) if self.path is not None else self.source
        try:
            env = Environment.of(platform, workspace)
        except ValueError as err:
            raise ConfigError(str(err), file=file) from None
        try:
            return self.environments[env]
        except KeyError:
            configured = ", ".join(str(e) for e in self.environments) or "none"
            key = "workspaces" if env.workspace not in self.workspaces else "platforms"
            close = closest(env.workspace, self.workspaces) if key == "workspaces" else []
            raise ConfigError(
                f"environment {env} is not configured (configured: {configured})",
                file=file,
                key=self.key_prefix + key,
                fix=(f"did you mean {close[0]!r}? " if close else "")
                + f"add '{env.workspace}' to workspaces and '{env.platform}' to its platforms",
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
