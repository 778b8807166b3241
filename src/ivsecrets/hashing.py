"""Intercom identity verification: ``user_hash`` (HMAC-SHA256) and the Messenger JWT (HS256).

Intercom's rules: the hash is lowercase hex HMAC-SHA256 keyed with the platform's secret over the
UTF-8 identifier; when both ``user_id`` and ``email`` are sent, it is the ``user_id`` that is
hashed; integer ids are hashed as their decimal string; missing or empty identifiers are errors.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from calendar import timegm
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from ivsecrets.errors import IdentifierError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivsecrets.cache import _Keys, _Slot
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
        try:
            value = str(user_id)
        except ValueError:  # an int past sys.get_int_max_str_digits()
            raise IdentifierError(
                "user_id is an integer too long to turn into text (over 4,300 digits)"
            ) from None
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
    message = _encoded(identifier(user_id, email))
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, "sha256").hexdigest()


_encode = str.encode  # the hot path's type check and encoding, one C call
_NOT_UNICODE = "the identifier is not valid Unicode text (a lone surrogate?)"


def _encoded(message: str) -> bytes:
    """``message`` as UTF-8; IdentifierError for what UTF-8 cannot encode (a lone surrogate)."""
    try:
        return message.encode()
    except UnicodeEncodeError:
        pass
    raise IdentifierError(_NOT_UNICODE)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# PyJWT's header for HS256, byte for byte (its keys sorted, compact separators).
_JWT_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}') + b"."
_TIME_CLAIMS = ("exp", "iat", "nbf")


class Hasher:
    """A ready-keyed signer for one environment, backed by the cache.

    Thread-safe and lock-free: every call reads the current snapshot of the environment's cache
    slot, so a refresh or rotation takes effect on the next call. Get one with
    ``ivsecrets.get_hasher(platform, workspace)`` or ``Secrets.hasher(...)``.
    """

    __slots__ = ("__weakref__", "_slot", "environment")

    def __init__(self, slot: _Slot) -> None:
        self._slot = slot
        self.environment: Environment = slot.environment

    def __repr__(self) -> str:
        provider = getattr(self._slot.cache, "provider", None)
        store = provider.name if provider is not None else "(the default's, on next use)"
        return f"Hasher({self.environment}, store={store!r})"

    def _follow(self, resolve: Callable[[Environment], _Slot]) -> None:
        """Leave the current slot: the next call binds to the slot ``resolve`` returns for this
        environment. ``configure()`` does this to the hashers of the default it closes, so a
        hasher kept from before serves the new default. Lock-free: a call already past the fast
        check finishes with the old snapshot."""
        # The stand-in is duck-typed as a slot: its snapshot is always overdue, so the hot path
        # costs nothing more and the slow path asks the stand-in's "cache" to rebind.
        self._slot = cast("_Slot", _Unbound(self, resolve))

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
        # The common case first: one C call checks that user_id is a str and encodes it (str.encode
        # refuses anything else with a TypeError, before any other check is paid for).
        try:
            data: bytes | None = _encode(user_id)  # type: ignore[arg-type]
        except TypeError:
            data = None
        except UnicodeEncodeError:
            raise IdentifierError(_NOT_UNICODE) from None
        if not data:  # not a str, or empty: the general rules (ints, email, the errors)
            try:
                data = identifier(user_id, email).encode()
            except UnicodeEncodeError:
                raise IdentifierError(_NOT_UNICODE) from None
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
        mac.update(data)
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

        The previous secret is accepted until a rotation retires it. Hex case follows Intercom
        (DESIGN.md), as ``ivsecrets diagnose`` does: the web Messenger accepts either case, the
        iOS and Android SDKs only lower-case, so upper-case hex is False for a mobile
        environment. False for an identifier UTF-8 cannot encode (no such hash can have been
        made); IdentifierError for a missing or empty one.
        """
        if not isinstance(user_hash, str):
            return False
        given_text = user_hash.strip()
        lowered = given_text.lower()
        if lowered != given_text and self.environment.platform.value != "web":
            return False  # the mobile SDKs reject it: so does verify
        try:
            message = identifier(user_id, email).encode()
            given = lowered.encode()
        except UnicodeEncodeError:
            return False
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
        ``expires_in`` seconds) are added when given; other claims pass through unchanged
        (``exp``/``iat``/``nbf`` given as datetimes become Unix times, as PyJWT does).
        IdentifierError for a bad ``user_id`` or a claim JSON cannot carry.

        Signed with the cache's pre-keyed HMAC, so the secret never sits in a frame's locals
        (where error reporters that capture locals would find it); the token is the one PyJWT
        makes for the same claims.
        """
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
        for claim in _TIME_CLAIMS:
            if isinstance(payload.get(claim), datetime):
                payload[claim] = timegm(payload[claim].utctimetuple())
        try:
            body = json.dumps(payload, separators=(",", ":")).encode()
        except (TypeError, ValueError, RecursionError) as err:
            problem = f"{type(err).__name__}: {err}"[:200]
        else:
            signing_input = _JWT_HEADER + _b64(body)
            mac = self._mac().copy()
            mac.update(signing_input)
            return (signing_input + b"." + _b64(mac.digest())).decode()
        raise IdentifierError(f"the JWT claims are not JSON-serialisable ({problem})")

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


class _Overdue:
    """The snapshot of an unbound hasher: always past its deadline, so the next call leaves the
    fast path."""

    __slots__ = ()
    inner = None  # no pads: the hot path's check sends the call to the slow path


class _Unbound:
    """Stands in for the slot of a hasher whose ``Secrets`` was replaced (see Hasher._follow)."""

    __slots__ = ("cache", "environment", "keys")

    def __init__(self, hasher: Hasher, resolve: Callable[[Environment], _Slot]) -> None:
        self.environment = hasher.environment
        self.keys = _Overdue()
        self.cache = _Rebinder(hasher, resolve)


class _Rebinder:
    """Stands in for the cache of an unbound hasher: what the hasher asks of it is answered by
    the slot ``resolve`` finds, which the hasher is rebound to on the way."""

    __slots__ = ("_hasher", "_resolve")

    def __init__(self, hasher: Hasher, resolve: Callable[[Environment], _Slot]) -> None:
        self._hasher = hasher
        self._resolve = resolve

    def _rebind(self) -> _Slot:
        slot = self._resolve(self._hasher.environment)
        self._hasher._slot = slot
        return slot

    def keys(self, slot: object) -> _Keys:
        bound = self._rebind()
        return bound.cache.keys(bound)

    def previous(self, slot: object) -> Any:
        bound = self._rebind()
        return bound.cache.previous(bound)
