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

The package's modules: ``model`` (the frozen values), ``files`` (discovery, ``extends``, TOML),
``origins`` (which file and key each value came from), ``build`` (a document checked into a
Config), ``workspace`` (each workspace's Intercom settings: the only check of the Intercom API URL
and the token variable), ``network`` (the loopback rule) and ``pins`` (writing a fingerprint pin
into a file). Every name other modules use is re-exported here.
"""

from __future__ import annotations

from ivsecrets.config.files import MAX_NESTING, find_config, load_config, parse_config
from ivsecrets.config.model import (
    CONFIG_ENV_VAR,
    EMBEDDED_DEFAULT,
    FINGERPRINT_PATTERN,
    WORKSPACE_PATTERN,
    CacheSettings,
    Config,
    EnvironmentConfig,
    KnownHash,
    StoreConfig,
    WorkspaceConfig,
)
from ivsecrets.config.network import is_loopback
from ivsecrets.config.workspace import (
    APP_ID_PATTERN,
    INTERCOM_API_HOSTS,
    INTERCOM_BASE_URLS,
    INTERCOM_REGIONS,
    REFUSED_TOKEN_VARIABLES,
    TOKEN_VARIABLE_PATTERN,
    api_base_url,
    check_intercom_base_url,
    default_token_variable,
)

__all__ = [
    "APP_ID_PATTERN",
    "CONFIG_ENV_VAR",
    "EMBEDDED_DEFAULT",
    "FINGERPRINT_PATTERN",
    "INTERCOM_API_HOSTS",
    "INTERCOM_BASE_URLS",
    "INTERCOM_REGIONS",
    "MAX_NESTING",
    "REFUSED_TOKEN_VARIABLES",
    "TOKEN_VARIABLE_PATTERN",
    "WORKSPACE_PATTERN",
    "CacheSettings",
    "Config",
    "EnvironmentConfig",
    "KnownHash",
    "StoreConfig",
    "WorkspaceConfig",
    "api_base_url",
    "check_intercom_base_url",
    "default_token_variable",
    "find_config",
    "is_loopback",
    "load_config",
    "parse_config",
]
