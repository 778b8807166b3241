"""Intercom identity verification: ``user_hash`` (HMAC-SHA256) and the Messenger JWT (HS256).

Intercom's rules: the hash is lowercase hex HMAC-SHA256 keyed with the platform's secret over the
UTF-8 identifier; when both ``user_id`` and ``email`` are sent, it is the ``user_id`` that is
hashed; integer ids are hashed as their decimal string; missing or empty identifiers are errors.
"""

from __future__ import annotations

import hmac
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ivsecrets.errors import IdentifierError

if TYPE_CHECKING:
    from ivsecrets.cache import _Slot
    from ivsecrets.environments import Environment
    from ivsecrets.secret import Secret

__all__ = ["Hasher", "identifier", "user_hash"]


def identifier(user_id: str | int | None = None, email: str | None = None) -> str:
    """The string Intercom hashes: ``user_id`` if given, else ``email``.

    >>> identifier(user_id=42, email="a@example.com")
    '42'
    >>> identifier(email="a@example.com")
    'a@example.com'
    """
    if user_id is not None:
        if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
            raise IdentifierError(
                f"user_id must be a string or an integer, not {type(user_id).__name__}"
            )
        value = str(user_id)
        if not value:
            raise IdentifierError("user_id is empty; pass a non-empty user_id or only email")
        return value
    if email is not None:
        if not isinstance(email, str):
            raise IdentifierError(f"email must be a string, not {type(email).__name__}")
        if not email:
            raise IdentifierError("email is empty; pass a non-empty email or a user_id")
        return email
    raise IdentifierError("pass user_id or email: Intercom hashes one of them")


def user_hash(
    secret: bytes | str, user_id: str | int | None = None, email: str | None = None
) -> str:
    """The ``user_hash`` for one identifier with an explicit key (no store, no cache).

    >>> user_hash(b"bar", user_id="baz")
    'c8acc43edc084edb8207a50320ba4ec5d113686cf8050274a305480c98512e45'
    """
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, identifier(user_id, email).encode(), "sha256").hexdigest()


class Hasher:
    """A ready-keyed signer for one environment, backed by the cache.

    Thread-safe and lock-free: every call reads the current snapshot of the environment's cache
    slot, so a refresh or rotation takes effect on the next call. Get one with
    ``ivsecrets.get_hasher(platform, workspace)`` or ``Secrets.hasher(...)``.
    """

    __slots__ = ("_slot", "environment")

    def __init__(self, slot: _Slot) -> None:
        self._slot = slot
        self.environment: Environment = slot.environment

    def __repr__(self) -> str:
        return f"Hasher({self.environment}, store={self._slot.cache.provider.name!r})"

    def _mac(self) -> Any:
        """The pre-keyed HMAC of the current secret (``copy()`` it; a JWT signer may reuse it)."""
        slot = self._slot
        keys = slot.keys
        if keys.inner is None:
            keys = slot.cache.keys(slot)
        return keys.mac

    def user_hash(self, user_id: str | int | None = None, email: str | None = None) -> str:
        """The lowercase hex ``user_hash`` of ``user_id`` (or, without one, ``email``).

        Raises IdentifierError for missing/empty identifiers, a StoreError subclass when the
        secret cannot be loaded (StaleSecretError once the store has failed past max_stale).
        """
        if user_id.__class__ is str and user_id:
            message: str = user_id
        else:
            message = identifier(user_id, email)
        # _mac() inlined, and HMAC from the key's pre-hashed inner and outer pads (RFC 2104): the
        # cheapest correct construction measured (bench/hot_path.py). No counter, no lock, no
        # clock: which environments are used, and when a secret stops being fresh, are handled
        # off this path (see ivsecrets.cache).
        slot = self._slot
        keys = slot.keys
        inner = keys.inner
        if inner is None:  # cold, not yet marked used, or no longer fresh: the slow path decides
            keys = slot.cache.keys(slot)
            inner = keys.inner
        mac = inner.copy()
        mac.update(message.encode())
        outer = keys.outer
        if outer is None:  # cryptography's HMAC context (see ivsecrets.cache.PrekeyedHmac)
            return mac.finalize().hex()  # type: ignore[no-any-return,unused-ignore]
        outer = outer.copy()
        outer.update(mac.digest())
        return outer.hexdigest()  # type: ignore[no-any-return,unused-ignore]

    def verify(
        self, user_hash: str, user_id: str | int | None = None, email: str | None = None
    ) -> bool:
        """True if ``user_hash`` matches the current or the previous secret (constant time).

        The previous secret is accepted until a rotation retires it. Hex case is ignored, as
        Intercom's web Messenger does.
        """
        if not isinstance(user_hash, str):
            return False
        message = identifier(user_id, email).encode()
        given = user_hash.strip().lower().encode()
        mac = self._mac().copy()
        mac.update(message)
        if hmac.compare_digest(mac.hexdigest().encode(), given):
            return True
        previous = self._slot.cache.previous(self._slot)
        if previous is None:
            return False
        mac = previous.copy()
        mac.update(message)
        return hmac.compare_digest(mac.hexdigest().encode(), given)

    def messenger_jwt(
        self,
        user_id: str | int,
        email: str | None = None,
        name: str | None = None,
        expires_in: float | timedelta | None = None,
        **claims: Any,
    ) -> str:
        """An HS256 JWT for Intercom's Messenger security (``intercom_user_jwt``/``setUserJwt``).

        ``user_id`` is required and sent as a string; ``email``, ``name`` and ``exp`` (from
        ``expires_in`` seconds) are added when given; other claims pass through unchanged.
        """
        import jwt  # PyJWT; imported here so that `import ivsecrets` stays light

        payload: dict[str, Any] = {"user_id": identifier(user_id=user_id)}
        if email is not None:
            payload["email"] = email
        if name is not None:
            payload["name"] = name
        if expires_in is not None:
            seconds = (
                expires_in.total_seconds()
                if isinstance(expires_in, timedelta)
                else float(expires_in)
            )
            payload["exp"] = int(time.time() + seconds)
        payload.update(claims)
        key = self.secret.value.reveal()
        return jwt.encode(payload, key, algorithm="HS256")

    @property
    def secret(self) -> Secret:
        """The current secret (metadata and fingerprint; the value stays hidden)."""
        self._mac()
        secret = self._slot.keys.secret
        assert secret is not None
        return secret

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the secret this hasher signs with now."""
        return self.secret.fingerprint
