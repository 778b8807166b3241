"""ivsecrets: Intercom identity-verification secrets, served from the store you already run.

>>> from ivsecrets import get_hasher
>>> get_hasher("ios", "prod").user_hash(user_id="42")  # doctest: +SKIP
"""

from __future__ import annotations

from ivsecrets.api import Secrets, configure, default_secrets, get_hasher
from ivsecrets.cache import CacheEvent
from ivsecrets.config import Config, load_config, parse_config
from ivsecrets.environments import Environment, Platform, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConfigError,
    IdentifierError,
    InvalidSecretError,
    IVSecretsError,
    SecretNotFoundError,
    StaleSecretError,
    StoreError,
    StoreUnavailableError,
)
from ivsecrets.hashing import Hasher, user_hash
from ivsecrets.provider import Provider
from ivsecrets.secret import Secret, SecretValue, fingerprint

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "CacheEvent",
    "Config",
    "ConfigError",
    "Environment",
    "Hasher",
    "IVSecretsError",
    "IdentifierError",
    "InvalidSecretError",
    "Platform",
    "Provider",
    "Secret",
    "SecretNotFoundError",
    "SecretValue",
    "Secrets",
    "Stage",
    "StaleSecretError",
    "StoreError",
    "StoreUnavailableError",
    "__version__",
    "configure",
    "default_secrets",
    "fingerprint",
    "get_hasher",
    "load_config",
    "parse_config",
    "user_hash",
]
