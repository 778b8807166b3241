"""HMAC-SHA256 keyed once: the construction every cached secret serves its hashes with.

:func:`prekeyed_mac` builds a :class:`PrekeyedHmac` for a key and checks it against
``hmac.new`` before it is used; the cache keeps one per secret, and ``Hasher.user_hash`` runs its
``inner``/``outer`` steps on the hot path.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

__all__ = ["PrekeyedHmac", "prekeyed_mac"]

log = logging.getLogger("ivsecrets")
_BLOCK = 64  # SHA-256's block size: the HMAC pads are this long
_CHECK_MESSAGE = b"HMAC construction check"


class _Digest:
    """Stands in for the outer hash when the pads are one OpenSSL HMAC (the fallback path)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes = b"") -> None:
        self._value = value

    def copy(self) -> _Digest:
        return _Digest()

    def update(self, data: bytes) -> None:
        self._value = data

    def digest(self) -> bytes:
        return self._value

    def hexdigest(self) -> str:
        return self._value.hex()


class PrekeyedHmac:
    """HMAC-SHA256 keyed once: ``copy()`` gives an object with ``update``/``digest``/``hexdigest``.

    The two cheapest correct constructions measured in CPython (bench/hot_path.py measures them
    against the OpenSSL HMAC copy and ``hmac.new`` in one run), the first one available:

    - ``cryptography``'s HMAC context keyed once (``outer`` is None): per message, ``copy()``,
      ``update()``, ``finalize()``; when ``cryptography`` is installed (it usually is: PyJWT's
      RSA/EC support, most cloud SDKs);
    - two ``hashlib.sha256`` objects that have absorbed the key's inner and outer pads (RFC 2104):
      per message, copy the inner one, feed it the message, then feed its digest to a copy of the
      outer one.

    The hot path in ``Hasher.user_hash`` uses ``inner``/``outer`` directly; ``verify`` and a JWT
    signer use ``copy()``. The construction is checked against ``hmac.new`` for every key
    installed; when neither can be used (a FIPS build that refuses them, say), ``inner`` is
    OpenSSL's HMAC object and ``outer`` a pass-through, so the same steps still give the digest.
    """

    __slots__ = ("_done", "inner", "outer")

    def __init__(self, inner: Any, outer: Any) -> None:
        self.inner = inner
        self.outer = outer
        self._done: bytes | None = None

    def __repr__(self) -> str:
        return "PrekeyedHmac(sha256)"

    def copy(self) -> PrekeyedHmac:
        return PrekeyedHmac(self.inner.copy(), self.outer)

    def update(self, data: bytes) -> None:
        self.inner.update(data)

    def digest(self) -> bytes:
        if self.outer is None:  # a cryptography context finalizes once: keep its result
            if self._done is None:
                self._done = self.inner.finalize()
            return self._done
        outer = self.outer.copy()
        outer.update(self.inner.digest())
        return outer.digest()  # type: ignore[no-any-return]

    def hexdigest(self) -> str:
        return self.digest().hex()


def _pads(key: bytes) -> tuple[Any, Any]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def _openssl_hmac(key: bytes) -> Any:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    return getattr(mac, "_hmac", None) or mac


def _cryptography_hmac(key: bytes) -> tuple[Any, None]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.hmac import HMAC

    return HMAC(key, hashes.SHA256()), None


def prekeyed_mac(key: bytes) -> PrekeyedHmac:
    """A :class:`PrekeyedHmac` for ``key``, checked against ``hmac.new`` before it is used."""
    expected = hmac.new(key, _CHECK_MESSAGE, hashlib.sha256).digest()
    for build in (_cryptography_hmac, _pads):
        try:
            mac = PrekeyedHmac(*build(key))
            check = mac.copy()
            check.update(_CHECK_MESSAGE)
            if hmac.compare_digest(check.digest(), expected):
                return mac
        except (ImportError, ValueError):  # not installed; or refused (a FIPS build)
            continue
        except Exception:  # an unusable library must not stop serving
            log.debug("%s unusable here", build.__name__, exc_info=True)
    log.debug("using OpenSSL's HMAC object")
    return PrekeyedHmac(_openssl_hmac(key), _Digest())
