"""The ivsecrets error hierarchy.

One base class, one subclass per failure a caller handles differently. Store plugins translate their
SDK's exceptions into these at the boundary (``raise ... from err``) and keep ``store``,
``reference`` and ``environment`` as attributes. No message ever contains a secret value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ivsecrets.environments import Environment

__all__ = [
    "AccessDeniedError",
    "ConcurrentRotationError",
    "ConfigError",
    "IVSecretsError",
    "IdentifierError",
    "IntercomAPIError",
    "InvalidSecretError",
    "MissingExtraError",
    "RotationError",
    "SecretNotFoundError",
    "StaleSecretError",
    "StoreError",
    "StoreThrottledError",
    "StoreUnavailableError",
    "closest",
    "quoted",
]


class IVSecretsError(Exception):
    """Base class of every error ivsecrets raises on purpose."""


class ConfigError(IVSecretsError):
    """The configuration is wrong: names the file, the key and what would be valid."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.fix = fix
        self.problem = message
        where = ": ".join(part for part in (file, f"[{key}]" if key else None) if part)
        text = f"{where}: {message}" if where else message
        if fix:
            text = f"{text} (fix: {fix})"
        super().__init__(text)


class MissingExtraError(ConfigError, ImportError):
    """A store plugin needs an SDK that is not installed; the message names the extra."""

    def __init__(self, plugin: str, package: str, extra: str) -> None:
        super().__init__(
            f"the '{plugin}' store needs the '{package}' package, which is not installed",
            fix=f"pip install 'ivsecrets[{extra}]'",
        )
        self.plugin = plugin
        self.extra = extra


class IdentifierError(IVSecretsError, ValueError):
    """The user identifier given to a hasher is missing, empty or of the wrong type."""


class StoreError(IVSecretsError):
    """A failure reading or writing one secret in one store.

    ``path``: the file on this machine the failure is about (a permission denied, a symlink
    loop), None when it is about the store's service; the message then needs no network hint.
    """

    #: The file on this machine the failure is about, if any (set by the provider base class).
    path: str | None = None

    def __init__(
        self,
        message: str,
        *,
        store: str | None = None,
        reference: str | None = None,
        environment: Environment | None = None,
    ) -> None:
        self.store = store
        self.reference = reference
        self.environment = environment
        self.detail = message
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.environment is not None:
            parts.append(f"environment {self.environment}")
        if self.store is not None:
            parts.append(f"store '{self.store}'")
        if self.reference is not None:
            parts.append(f"reference '{self.reference}'")
        where = ", ".join(parts)
        return f"{self.detail} ({where})" if where else self.detail

    def located(
        self,
        *,
        store: str | None = None,
        reference: str | None = None,
        environment: Environment | None = None,
    ) -> StoreError:
        """Fill in location attributes that are still unknown; returns self for chaining."""
        self.store = self.store or store
        self.reference = self.reference or reference
        self.environment = self.environment or environment
        return self


class SecretNotFoundError(StoreError):
    """The store has no such secret (or no such version or stage of it)."""


class AccessDeniedError(StoreError):
    """The store refused: the credentials in use may not read or write this secret."""


class StoreUnavailableError(StoreError):
    """The store could not be reached or failed; the last good secret may still be served."""


class StoreThrottledError(StoreUnavailableError):
    """The store asked us to slow down (rate limit)."""


class StaleSecretError(StoreUnavailableError):
    """The store has been failing for longer than ``max_stale``: ivsecrets fails closed."""


class InvalidSecretError(StoreError):
    """The store returned something that cannot be an Intercom secret (empty, wrong shape)."""


class RotationError(IVSecretsError):
    """A rotation step could not be carried out; the current secret is unchanged."""


class ConcurrentRotationError(RotationError):
    """Another rotation of the same environment changed the store first (compare-and-set lost)."""


class IntercomAPIError(IVSecretsError):
    """Intercom's REST API answered with an error or could not be reached."""

    def __init__(
        self, message: str, *, status: int | None = None, workspace: str | None = None
    ) -> None:
        self.status = status
        self.workspace = workspace
        super().__init__(message)


def quoted(value: object) -> str:
    """``repr(value)`` for an error message, unless the value could be a pasted secret.

    Config values that are wrong get echoed back to help the reader, but a long high-entropy
    string in the wrong place is more likely a secret than a name: show only its length.

    >>> quoted("prod")
    "'prod'"
    >>> quoted("ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3")
    '<a 43-character string, not shown>'
    """
    if isinstance(value, (str, bytes)):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        mixed = any(c.isupper() for c in text) and any(c.isdigit() for c in text)
        if len(text) >= 24 or (len(text) >= 12 and mixed):
            return f"<a {len(text)}-character string, not shown>"
    return repr(value)


def closest(name: str, valid: Sequence[str]) -> list[str]:
    """The one name in ``valid`` closest to ``name``, if any is close: for a did-you-mean.

    >>> closest("avs", ["aws", "gcp", "vault"])
    ['aws']
    >>> closest("xyz", ["aws", "gcp"])
    []
    """
    import difflib  # only on the error path: not loaded by `import ivsecrets`

    return difflib.get_close_matches(name, valid, n=1)
