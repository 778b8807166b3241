"""Secret values that never show themselves, their metadata, and fingerprints."""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from ivsecrets.environments import Environment, Stage

__all__ = [
    "FINGERPRINT_DOMAIN",
    "FINGERPRINT_PREFIX",
    "Secret",
    "SecretValue",
    "VersionInfo",
    "fingerprint",
    "shape_problem",
]

FINGERPRINT_PREFIX = "ivfp1:"
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 512
_PRINTABLE = frozenset(string.printable) - frozenset(string.whitespace)
# The fingerprint is HMAC-SHA256 keyed with the secret over this fixed domain string, so it can be
# printed, committed and compared without revealing the secret or any hash Intercom would accept.
FINGERPRINT_DOMAIN = b"ivsecrets fingerprint v1"


def fingerprint(value: bytes | str) -> str:
    """Return the printable fingerprint of a secret value.

    >>> fingerprint(b"secret")
    'ivfp1:ba0c8f511c4590a2'
    """
    key = value.encode() if isinstance(value, str) else value
    return FINGERPRINT_PREFIX + hmac.new(key, FINGERPRINT_DOMAIN, hashlib.sha256).hexdigest()[:16]


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
    #: When this version became current (a promote or a rollback), as the store's rotation
    #: record has it; the grace period of the version it replaced is measured from here.
    current_since: datetime | None = None
    #: When this version stopped being current (replaced by a promote or a rollback).
    demoted_at: datetime | None = None


def shape_problem(
    raw: bytes, *, had_whitespace: bool = False, json_allowed: bool = False
) -> str | None:
    """What makes ``raw`` implausible as an Intercom secret, or None if nothing does.

    >>> shape_problem(b"ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3") is None
    True
    >>> shape_problem(b"short")
    '5 characters is not the length of an Intercom secret (16-512; new ones have 43)'
    """
    if had_whitespace or raw != raw.strip():
        return (
            "the value has surrounding whitespace (a trailing newline?); write it "
            "without, e.g. printf '%s' instead of echo"
        )
    if not raw:
        return "the value is empty"
    text = raw.decode("utf-8", "replace")
    if text.startswith("{") and not json_allowed:
        try:
            keys = sorted(json.loads(text))
        except (ValueError, TypeError):
            keys = []
        if keys:
            return (
                "the secret is a JSON object, not a plain secret; add "
                f"'#<key>' to the reference (keys: {', '.join(keys)})"
            )
    if not set(text) <= _PRINTABLE:
        return "the secret contains non-printable or non-ASCII characters"
    if not MIN_SECRET_LENGTH <= len(raw) <= MAX_SECRET_LENGTH:
        return (
            f"{len(raw)} characters is not the length of an Intercom secret "
            f"({MIN_SECRET_LENGTH}-{MAX_SECRET_LENGTH}; new ones have 43)"
        )
    return None
