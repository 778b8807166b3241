"""Secret values that never show themselves, their metadata, and fingerprints."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from ivsecrets.environments import Environment, Stage

__all__ = [
    "FINGERPRINT_PREFIX",
    "Secret",
    "SecretValue",
    "VersionInfo",
    "fingerprint",
    "quoted",
]

FINGERPRINT_PREFIX = "ivfp1:"
# The fingerprint is HMAC-SHA256 keyed with the secret over this fixed domain string, so it can be
# printed, committed and compared without revealing the secret or any hash Intercom would accept.
_FINGERPRINT_DOMAIN = b"ivsecrets fingerprint v1"


def fingerprint(value: bytes | str) -> str:
    """Return the printable fingerprint of a secret value.

    >>> fingerprint(b"secret")
    'ivfp1:ba0c8f511c4590a2'
    """
    key = value.encode() if isinstance(value, str) else value
    return FINGERPRINT_PREFIX + hmac.new(key, _FINGERPRINT_DOMAIN, hashlib.sha256).hexdigest()[:16]


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


class SecretValue:
    """The bytes of a secret, hidden from repr, str, format, logging and pickle.

    ``reveal()`` is the one way to get the bytes back; everything else shows the fingerprint.
    """

    __slots__ = ("__value", "_fingerprint")
    __value: bytes
    _fingerprint: str

    def __init__(self, value: bytes | str) -> None:
        raw = value.encode() if isinstance(value, str) else bytes(value)
        object.__setattr__(self, "_SecretValue__value", raw)
        object.__setattr__(self, "_fingerprint", fingerprint(raw))

    def reveal(self) -> bytes:
        """The secret bytes. Use them as a key; never print or log them."""
        return self.__value

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def __len__(self) -> int:
        return len(self.__value)

    def __repr__(self) -> str:
        return f"SecretValue({self._fingerprint})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self.__value, other.__value)

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("SecretValue is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("secret values cannot be pickled")

    def __copy__(self) -> SecretValue:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretValue:
        return self


@dataclass(frozen=True)
class Secret:
    """One version of one environment's secret, with where it came from.

    ``repr`` shows the fingerprint, never the value; pickling is refused (through the value).
    """

    value: SecretValue
    store: str
    reference: str
    environment: Environment | None = None
    stage: Stage = Stage.current
    version: str | None = None
    created_at: datetime | None = None
    intercom_secret_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: True when the stored value had surrounding whitespace that was stripped on load.
    had_whitespace: bool = False

    @property
    def fingerprint(self) -> str:
        return self.value.fingerprint


@dataclass(frozen=True)
class VersionInfo:
    """What a store reports about one version: no value, only its names, fingerprint and times."""

    version: str | None
    stages: tuple[Stage, ...]
    fingerprint: str | None = None
    created_at: datetime | None = None
    intercom_secret_id: str | None = None
    retired: bool = False
