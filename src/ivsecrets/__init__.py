"""ivsecrets: Intercom identity-verification secrets, served from the store you already run.

>>> from ivsecrets import get_hasher
>>> get_hasher("ios", "prod").user_hash(user_id="42")  # doctest: +SKIP

This package exports what a backend needs, the errors it handles included; everything else is
imported from its module (``ivsecrets.config``, ``ivsecrets.environments``, ``ivsecrets.errors``,
...).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivsecrets.api import Secrets, configure, get_hasher
    from ivsecrets.config import load_config
    from ivsecrets.environments import Platform
    from ivsecrets.errors import AccessDeniedError as AccessDeniedError
    from ivsecrets.errors import (
        ConfigError,
        IdentifierError,
        IVSecretsError,
        StaleSecretError,
        StoreError,
    )
    from ivsecrets.errors import InvalidSecretError as InvalidSecretError
    from ivsecrets.errors import RotationError as RotationError
    from ivsecrets.errors import SecretNotFoundError as SecretNotFoundError
    from ivsecrets.errors import StoreThrottledError as StoreThrottledError
    from ivsecrets.errors import StoreUnavailableError as StoreUnavailableError
    from ivsecrets.hashing import Hasher, user_hash
    from ivsecrets.secret import fingerprint

# Each name is imported from its module on first use (PEP 562): `import ivsecrets.scan` or the
# CLI's start need not load the cache, the hasher and the store protocol, and `import ivsecrets`
# itself stays light.
_EXPORTS = {
    "Secrets": "ivsecrets.api",
    "configure": "ivsecrets.api",
    "get_hasher": "ivsecrets.api",
    "load_config": "ivsecrets.config",
    "Platform": "ivsecrets.environments",
    # The errors a caller handles (README, "Errors"); the rest stay in ivsecrets.errors.
    "AccessDeniedError": "ivsecrets.errors",
    "ConfigError": "ivsecrets.errors",
    "IdentifierError": "ivsecrets.errors",
    "InvalidSecretError": "ivsecrets.errors",
    "IVSecretsError": "ivsecrets.errors",
    "RotationError": "ivsecrets.errors",
    "SecretNotFoundError": "ivsecrets.errors",
    "StaleSecretError": "ivsecrets.errors",
    "StoreError": "ivsecrets.errors",
    "StoreThrottledError": "ivsecrets.errors",
    "StoreUnavailableError": "ivsecrets.errors",
    "Hasher": "ivsecrets.hashing",
    "user_hash": "ivsecrets.hashing",
    "fingerprint": "ivsecrets.secret",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(import_module(module), name)
        globals()[name] = value  # once: later lookups do not come here
        return value
    if name != "__version__":
        raise AttributeError(f"module 'ivsecrets' has no attribute {name!r}")
    # The version comes from the installed package's metadata, read on first use only:
    # importlib.metadata costs tens of milliseconds.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ivsecrets")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "0+unknown"


def __dir__() -> list[str]:
    return sorted({*__all__, *_EXPORTS})


# The star-import list, pinned by tests/test_packaging.py. The further errors in ``_EXPORTS``
# import by name (``from ivsecrets import SecretNotFoundError``); the ``as`` re-exports above
# tell type checkers so.
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
