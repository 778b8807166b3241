"""Loading and validating the ivsecrets configuration.

Where it comes from, first match wins: the ``path`` given (``--config``), ``$IVSECRETS_CONFIG``,
else the nearest ``ivsecrets.toml`` or ``pyproject.toml`` with a ``[tool.ivsecrets]`` table,
searched from the working directory upward (in each directory ``ivsecrets.toml`` first) and
stopping at the repository root (a directory holding ``.git``) or the filesystem root, as ruff and
pytest find theirs; else the embedded default, which reads each secret from the environment variable
``IVSECRETS_<PLATFORM>_<WORKSPACE>``. Which one was used is logged at INFO.

A file may say ``extends = "generated.toml"`` (relative to itself): it is read on top of that file,
tables merged key by key, every other value (arrays included) replaced, and an error names the file
the offending key came from. That is how a committed file keeps its pins and ``known_hashes`` on top
of the one Terraform regenerates.

Every error is a :class:`~ivsecrets.errors.ConfigError` naming the file, the key and what would be
valid. The result is immutable; a new configuration means a new :class:`Config`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ivsecrets.environments import DEFAULT_WORKSPACES, Environment, Platform
from ivsecrets.errors import ConfigError, quoted

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_REFERENCES",
    "EMBEDDED_DEFAULT",
    "INTERCOM_API_HOSTS",
    "REFUSED_TOKEN_VARIABLES",
    "CacheSettings",
    "Config",
    "EnvironmentConfig",
    "KnownHash",
    "StoreConfig",
    "WorkspaceConfig",
    "find_config",
    "load_config",
    "parse_config",
]

log = logging.getLogger("ivsecrets")

EMBEDDED_DEFAULT = "<embedded default>"
CONFIG_ENV_VAR = "IVSECRETS_CONFIG"
# Use these with fullmatch: in Python "$" also matches before a trailing newline, so .match would
# take "prod\n". FINGERPRINT_PATTERN ends in \Z, safe with any call. WORKSPACE_PATTERN keeps "^...$"
# because the Terraform modules validate workspace names with the same text (RE2, where "$" is the
# end of the text) and tests/terraform keeps the two identical.
FINGERPRINT_PATTERN = re.compile(r"\Aivfp1:[0-9a-f]{16}\Z")
WORKSPACE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
# Intercom app ids are short lower-case alphanumerics (e.g. "abc12def"); others are paste errors.
APP_ID_PATTERN = re.compile(r"^[a-z0-9]{4,16}$")
INTERCOM_REGIONS = ("us", "eu", "au")
# Where ``intercom_base_url`` may point without ``allow_custom_intercom_host = true``: Intercom's
# API hosts (https only), or this machine (tests, a local fake). The token goes to that host.
INTERCOM_API_HOSTS = ("api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_VARIABLE_PATTERN = re.compile(r"\A[A-Z_][A-Z0-9_]*\Z")
# Environment variables that hold some other credential: ``intercom_token_env`` may not name them,
# so that a config cannot send them to a host as the Intercom bearer token. Documented in README.md
# ("Configuration"); the secret variables of the embedded default (IVSECRETS_<PLATFORM>_<WS>) and
# IVSECRETS_CONFIG are refused as well.
REFUSED_TOKEN_VARIABLES = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "VAULT_SECRET_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "CLOUDSDK_AUTH_ACCESS_TOKEN",
        "AZURE_CLIENT_SECRET",
        "ARM_CLIENT_SECRET",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CI_JOB_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_JWT_V2",
        "CI_REGISTRY_PASSWORD",
        "NPM_TOKEN",
        "NODE_AUTH_TOKEN",
        "TWINE_PASSWORD",
        "PYPI_TOKEN",
        "DOCKER_PASSWORD",
        "HEROKU_API_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DJANGO_SECRET_KEY",
    }
)
_SECRET_VARIABLE = re.compile(r"\AIVSECRETS_(?:WEB|IOS|ANDROID|CONFIG)(?:_[A-Z0-9_]*)?\Z")
# Deeper than any key this configuration has (environments.P.W.known_hashes[i].user_id is five):
# refused before anything walks the document, so no walk can exhaust the stack.
MAX_NESTING = 16

# The reference template each built-in store uses when the configuration names none. The Terraform
# modules create secrets under these same names, so module and library agree without extra config.
DEFAULT_REFERENCES: Mapping[str, str] = MappingProxyType(
    {
        "env": "IVSECRETS_{PLATFORM}_{WORKSPACE}",
        "file": "{platform}_{workspace}",
        "aws": "ivsecrets-{workspace}-{platform}",
        "aws-agent": "ivsecrets-{workspace}-{platform}",  # the same secrets, through the agent
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
            raise ConfigError(
                f"environment {env} is not configured (configured: {configured})",
                file=file,
                key=self.key_prefix + key,
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
        log.info("configuration from %s (%s)", file, origin)
        document = _read_file(file, str(file))
        if file.name != "pyproject.toml":
            return _load_file(file, document)
        tool = document.get("tool")
        if not isinstance(tool, dict) or "ivsecrets" not in tool:
            raise ConfigError(
                "this pyproject.toml has no [tool.ivsecrets] table",
                file=str(file),
                fix="add the configuration under [tool.ivsecrets] or name an ivsecrets.toml",
            )
        return _load_file(file, tool["ivsecrets"], pyproject=True)
    found = _nearest(Path.cwd())
    if found is None:
        log.info(
            "no ivsecrets.toml or pyproject.toml with [tool.ivsecrets] from %s up to "
            "the repository root; using the embedded default (each secret from the environment "
            "variable IVSECRETS_<PLATFORM>_<WORKSPACE>)",
            Path.cwd(),
        )
        return _build({}, _Origins(EMBEDDED_DEFAULT), EMBEDDED_DEFAULT, None)
    file, document = found
    log.info("configuration from %s", file)
    if file.name == "pyproject.toml":
        return _load_file(file, document["tool"]["ivsecrets"], pyproject=True)
    return _load_file(file, document)


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The file :func:`load_config` would read when given no path and no ``$IVSECRETS_CONFIG``.

    The nearest ``ivsecrets.toml``, or ``pyproject.toml`` with a ``[tool.ivsecrets]`` table, from
    ``start`` (default: the working directory) upward; the search ends at a directory holding
    ``.git`` or at the filesystem root. None if there is none. ConfigError if a pyproject.toml on
    the way is not valid TOML.
    """
    found = _nearest(Path(start) if start is not None else Path.cwd())
    return found[0] if found is not None else None


def _nearest(start: Path) -> tuple[Path, dict[str, Any]] | None:
    cwd = Path.cwd()
    for directory in (start, *start.parents):
        candidate = directory / "ivsecrets.toml"
        if candidate.is_file():
            shown = _shown(candidate, cwd)
            return shown, _read_file(candidate, str(shown))
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            shown = _shown(pyproject, cwd)
            document = _read_file(pyproject, str(shown))
            tool = document.get("tool")
            if isinstance(tool, dict) and "ivsecrets" in tool:
                return shown, document
        if (directory / ".git").exists():  # a directory, or a file in a git worktree
            break
    return None


def _shown(file: Path, cwd: Path) -> Path:
    """``file`` as a user would write it from ``cwd``: relative when it is above or below."""
    try:
        return Path(os.path.relpath(file, cwd))
    except ValueError:  # pragma: no cover - another drive on Windows
        return file


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate configuration given as TOML text; ``source`` names it in errors.

    An ``extends`` path in it is taken relative to the directory of ``source``.
    """
    document = _read_toml(text, source)
    del text  # not kept in this frame while the configuration is validated
    return _load_file(Path(source), document, keep_path=False)


def _load_file(
    file: Path, document: object, *, pyproject: bool = False, keep_path: bool = True
) -> Config:
    """Validate ``document``, read from ``file``, on top of the files it extends."""
    name = str(file)
    origins = _Origins(name)
    if pyproject:
        origins.prefixes[name] = "tool.ivsecrets."
        if not isinstance(document, dict):
            raise ConfigError(
                f"must be a table, got {type(document).__name__}",
                file=name,
                key="tool.ivsecrets",
                fix="write it as [tool.ivsecrets]",
            )
    assert isinstance(document, dict)
    files = [name]
    data = _extend(file, document, origins, files, (file.resolve(),))
    return _build(
        data,
        origins,
        f"{name} [tool.ivsecrets]" if pyproject else name,
        file if keep_path else None,
        files=tuple(files),
    )


def _extend(
    file: Path,
    document: dict[str, Any],
    origins: _Origins,
    files: list[str],
    chain: tuple[Path, ...],
) -> dict[str, Any]:
    """``document`` merged on top of the file its ``extends`` names (recursively)."""
    name = str(file)
    base_name = document.get("extends", "")
    key = origins.prefixes.get(name, "") + "extends"
    if not isinstance(base_name, str):
        raise ConfigError(
            f"must be a str, got {quoted(base_name)}",
            file=name,
            key=key,
            fix='extends = "generated.toml" (a path relative to this file)',
        )
    document = {k: v for k, v in document.items() if k != "extends"}
    if not base_name:
        origins.record(document, name)
        return document
    base = file.parent / base_name
    resolved = base.resolve()
    if resolved in chain:
        cycle = " -> ".join([*(str(p) for p in chain), str(resolved)])
        raise ConfigError(
            f"extends forms a cycle: {cycle}",
            file=name,
            key=key,
            fix="remove extends from one of these files",
        )
    if not base.is_file():
        raise ConfigError(
            f"the file it extends was not found: {base}",
            file=name,
            key=key,
            fix="the path is relative to this file; write the generated file there first "
            "(e.g. terraform output -raw ivsecrets_config > generated.toml)",
        )
    files.append(str(base))
    merged = _extend(base, _read_file(base, str(base)), origins, files, (*chain, resolved))
    return _merge(merged, document, name, origins, ())


def _merge(
    base: dict[str, Any],
    overlay: dict[str, Any],
    file: str,
    origins: _Origins,
    parts: tuple[str, ...],
) -> dict[str, Any]:
    """``overlay`` on top of ``base``: tables merged key by key, other values replaced."""
    result = dict(base)
    for key, value in overlay.items():
        path = (*parts, key)
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            origins.files[path] = file
            result[key] = _merge(result[key], value, file, origins, path)
        else:
            origins.forget(path)
            origins.files[path] = file
            if isinstance(value, dict):
                origins.record(value, file, path)
            result[key] = value
    return result


def _read_file(file: Path, source: str) -> dict[str, Any]:
    """The TOML document in ``file``; ConfigError if it cannot be read, decoded or parsed.

    The file's bytes and text stay out of every exception raised (and its chain) and out of the
    frames it passes through: they are never bound to a name here.
    """
    return _read_toml(_file_bytes(file, source), source)


def _file_bytes(file: Path, source: str) -> bytes:
    reason = None
    try:
        return file.read_bytes()
    except OSError as err:
        reason = err.strerror
    raise ConfigError(f"cannot read configuration: {reason}", file=source)


def _read_toml(text: str | bytes, source: str) -> dict[str, Any]:
    """Parse TOML (bytes must be UTF-8); ConfigError, with no chained exception and no local
    holding the text, if it is not valid.

    Nesting deeper than any configuration needs is refused, so no later walk can recurse without
    bound; tomllib itself raises RecursionError on a few thousand nested arrays.
    """
    problem = fix = None
    data: dict[str, Any] = {}
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as err:
        problem = f"not UTF-8 text (invalid byte at offset {err.start})"
        fix = "save the file as UTF-8"
    except tomllib.TOMLDecodeError as err:
        problem = f"not valid TOML: {err.args[0] if err.args else err}"
        fix = "correct the TOML syntax at the position shown"
    except RecursionError:
        problem = "not valid here: values nested too deeply"
        fix = f"a configuration nests at most {MAX_NESTING} levels"
    del text
    if problem is not None:
        # Raised outside the except block: no __context__ holding the document.
        raise ConfigError(problem, file=source, fix=fix)
    if _depth(data) > MAX_NESTING:
        raise ConfigError(
            f"values nested too deeply (more than {MAX_NESTING} levels)",
            file=source,
            fix="a configuration needs no more than a few levels of tables",
        )
    return data


def _depth(document: object) -> int:
    """How deeply tables and arrays nest in ``document``, walked without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(document, 0)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_NESTING:
            break
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
    return deepest


class _Origins:
    """Which file each key came from (files extend one another), and the prefix of every key."""

    def __init__(self, default: str) -> None:
        self.default = default
        self.prefixes: dict[str, str] = {}  # file -> prefix of its keys ("tool.ivsecrets.")
        self.files: dict[tuple[str, ...], str] = {}

    def key(self, file: str, label: str) -> str:
        return self.prefixes.get(file, "") + label

    def file_of(self, parts: tuple[str, ...]) -> str:
        for end in range(len(parts), 0, -1):
            found = self.files.get(parts[:end])
            if found is not None:
                return found
        return self.default

    def record(self, document: dict[str, Any], file: str, parts: tuple[str, ...] = ()) -> None:
        stack = [(document, parts)]
        while stack:
            table, at = stack.pop()
            for key, value in table.items():
                path = (*at, key)
                self.files[path] = file
                if isinstance(value, dict):
                    stack.append((value, path))

    def forget(self, parts: tuple[str, ...]) -> None:
        for known in [k for k in self.files if k[: len(parts)] == parts]:
            del self.files[known]


T = TypeVar("T")


class _Table:
    """A TOML table being validated: knows its dotted key and, per key, the file it came from."""

    def __init__(
        self, data: object, origins: _Origins, parts: tuple[str, ...], label: str | None = None
    ) -> None:
        self.origins = origins
        self.parts = parts
        self.label = ".".join(parts) if label is None else label
        if not isinstance(data, dict):
            key = self.key
            raise ConfigError(
                f"must be a table, got {type(data).__name__}",
                file=self.file,
                key=key or None,
                fix=f"write it as [{key}]",
            )
        self.data: dict[str, Any] = data

    @property
    def file(self) -> str:
        return self.origins.file_of(self.parts)

    @property
    def key(self) -> str:
        return self.origins.key(self.file, self.label)

    def file_of(self, name: str) -> str:
        return self.origins.file_of((*self.parts, name))

    def path(self, name: str) -> str:
        return self.origins.key(self.file_of(name), f"{self.label}.{name}" if self.label else name)

    def error(self, name: str, message: str, fix: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file_of(name), key=self.path(name), fix=fix)

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
        return _Table(self.data.get(name, {}), self.origins, (*self.parts, name))

    def entry(self, name: str, index: int, item: object) -> _Table:
        """Entry ``index`` of the array of tables ``name``."""
        label = f"{self.label}.{name}[{index}]" if self.label else f"{name}[{index}]"
        return _Table(item, self.origins, (*self.parts, name), label)


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


def _build(
    data: dict[str, Any],
    origins: _Origins,
    source: str,
    path: Path | None,
    *,
    files: tuple[str, ...] = (),
) -> Config:
    root = _Table(data, origins, ())
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
    settings = _workspace_settings(root.table("workspace"), workspace_names, platforms)
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

    def __init__(self, table: _Table, cache: CacheSettings) -> None:
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

    def resolve(self, table: _Table, key: str, name: str) -> str:
        """``name`` as the store at ``key`` of ``table``: a defined store or a built-in plugin.

        A built-in plugin's name (env, file, aws, gcp, vault) needs no table: it is that plugin
        with its default options. Anything else is a ConfigError with a did-you-mean.
        """
        if name in self.defined or name in self.implicit:
            return name
        if name in DEFAULT_REFERENCES:
            self.implicit[name] = StoreConfig(
                name, name, cache=self.cache, source=table.file_of(key)
            )
            return name
        known = list(dict.fromkeys([*self.defined, *DEFAULT_REFERENCES]))
        shown = quoted(name)
        hidden = shown != repr(name)  # possibly a pasted secret: never echoed, not even in the fix
        close = [] if hidden else _closest(name, known)
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


def _closest(name: str, valid: list[str]) -> list[str]:
    import difflib  # only on the error path

    return difflib.get_close_matches(name, valid, n=1)


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
        ws.only(
            "platforms",
            "intercom_region",
            "intercom_token_env",
            "intercom_base_url",
            "allow_custom_intercom_host",
            "app_id",
        )
        region = ws.get("intercom_region", str, "us")
        if region not in INTERCOM_REGIONS:
            raise ws.error(
                "intercom_region",
                f"unknown Intercom region {quoted(region)}",
                fix="one of: " + ", ".join(INTERCOM_REGIONS),
            )
        allow_custom = ws.get("allow_custom_intercom_host", bool, False)
        settings[name] = WorkspaceConfig(
            name=name,
            platforms=_platforms(ws, "platforms", platforms),
            intercom_region=region,
            intercom_token_env=_token_variable(ws, name),
            intercom_base_url=_intercom_base_url(ws, allow_custom),
            allow_custom_intercom_host=allow_custom,
            app_id=_app_id(ws),
        )
    return settings


def _app_id(ws: _Table) -> str | None:
    app_id = ws.get("app_id", str, "")
    if app_id and not APP_ID_PATTERN.fullmatch(app_id):
        raise ws.error(
            "app_id",
            f"not an Intercom app id: {quoted(app_id)}",
            fix="paste the app id from Intercom's Messenger settings "
            '(4-16 lower-case letters and digits, e.g. app_id = "abc12def")',
        )
    return app_id or None


def _token_variable(ws: _Table, workspace: str) -> str:
    """``intercom_token_env``: a variable name, and not one that holds another credential."""
    default = f"IVSECRETS_INTERCOM_TOKEN_{workspace.upper().replace('-', '_')}"
    name = ws.get("intercom_token_env", str, default)
    if not TOKEN_VARIABLE_PATTERN.fullmatch(name):
        raise ws.error(
            "intercom_token_env",
            f"{quoted(name)} is not an environment variable name "
            "(upper-case letters, digits and '_', not starting with a digit)",
            fix=f'intercom_token_env = "{default}"',
        )
    if name in REFUSED_TOKEN_VARIABLES or _SECRET_VARIABLE.fullmatch(name):
        raise ws.error(
            "intercom_token_env",
            f"{name} holds another credential or secret; ivsecrets would send its value to "
            "Intercom's API as the bearer token",
            fix=f'keep the Intercom API token in a variable of its own, e.g. "{default}"',
        )
    return name


def _intercom_base_url(ws: _Table, allow_custom: bool) -> str | None:
    """``intercom_base_url``: Intercom's API hosts or loopback, unless custom hosts are allowed.

    The API token is sent to this URL, so a config must not point it anywhere by accident.
    """
    url = ws.get("intercom_base_url", str, "")
    if not url:
        return None
    key = "intercom_base_url"
    problem = None
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        problem = "not a valid URL (bad host or port)"
    if problem is not None:
        raise ws.error(key, problem, fix='e.g. intercom_base_url = "https://api.eu.intercom.io"')
    if parts.scheme not in ("http", "https") or not host:
        raise ws.error(
            key,
            "must be an http or https URL with a host",
            fix='e.g. intercom_base_url = "https://api.eu.intercom.io"',
        )
    if port == 0:
        raise ws.error(key, "port 0 is not a port a server listens on", fix="a port 1-65535")
    if parts.username is not None or parts.password is not None:
        raise ws.error(
            key,
            "must not carry a user name or password",
            fix="the API token comes from intercom_token_env; remove the part before '@'",
        )
    if host in INTERCOM_API_HOSTS and not allow_custom:
        if parts.scheme != "https":
            raise ws.error(key, "Intercom's API is reached over https", fix="use https://")
        if port not in (None, 443):
            raise ws.error(key, f"Intercom's API has no port {port}", fix="leave out the port")
    elif host not in LOOPBACK_HOSTS and not allow_custom:
        raise ws.error(
            key,
            f"{quoted(host)} is not one of Intercom's API hosts "
            f"({', '.join(INTERCOM_API_HOSTS)}) or this machine; the API token would be sent "
            "to it",
            fix="use intercom_region, or an Intercom host; for a proxy of your own also set "
            f"allow_custom_intercom_host = true in [{ws.key}]",
        )
    return url


def _environments(
    root: _Table,
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
            store = default_store
            if "store" in table.data:
                store = stores.resolve(table, "store", table.get("store", str, default_store))
            plugin = stores.used()[store].plugin
            template = table.get("reference", str, default_reference) or DEFAULT_REFERENCES.get(
                plugin, ""
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
