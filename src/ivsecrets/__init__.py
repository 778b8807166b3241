"""ivsecrets: Intercom identity-verification secrets, served from the store you already run.

>>> from ivsecrets import get_hasher
>>> get_hasher("ios", "prod").user_hash(user_id="42")  # doctest: +SKIP

This package exports what a backend needs; everything else is imported from its module
(``ivsecrets.config``, ``ivsecrets.environments``, ``ivsecrets.errors``, ...).
"""

from __future__ import annotations

from ivsecrets.api import Secrets, configure, get_hasher
from ivsecrets.config import load_config
from ivsecrets.environments import Platform
from ivsecrets.errors import (
    ConfigError,
    IdentifierError,
    IVSecretsError,
    StaleSecretError,
    StoreError,
)
from ivsecrets.hashing import Hasher, user_hash
from ivsecrets.secret import fingerprint


def __getattr__(name: str) -> str:
    # The version comes from the installed package's metadata, read on first use only:
    # importlib.metadata costs tens of milliseconds, and `import ivsecrets` stays light.
    if name != "__version__":
        raise AttributeError(f"module 'ivsecrets' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ivsecrets")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "0+unknown"


__all__ = [
    "ConfigError",
    "Hasher",
    "IVSecretsError",
    "IdentifierError",
    "Platform",
    "Secrets",
    "StaleSecretError",
    "StoreError",
    "__version__",
    "configure",
    "fingerprint",
    "get_hasher",
    "load_config",
    "user_hash",
]
