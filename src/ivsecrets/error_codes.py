"""What a remote service's answer means, as the kind of failure a caller acts on.

One table from an HTTP status and one from an AWS error code, shared by every adapter that speaks
HTTP or AWS: the Intercom client, the ``aws`` store and the ``aws-agent`` store (which relays AWS's
error codes). Each adapter turns a :class:`Failure` into its own error classes (the stores through
:data:`STORE_ERRORS`); the codes themselves live only here, so the adapters cannot drift apart.
hvac's ``exceptions.py`` is the model: a table, not an if-chain per adapter.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from ivsecrets.errors import (
    AccessDeniedError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)

__all__ = [
    "AWS_ERROR_CODES",
    "HTTP_STATUSES",
    "STORE_ERRORS",
    "Failure",
    "aws_failure",
    "http_failure",
    "store_error_class",
]


class Failure(enum.Enum):
    """A kind of failure, by what the caller does about it."""

    not_found = "not found"  # no such secret (or version): create it, or fix the reference
    denied = "denied"  # the credentials may not do it: fix them or the policy, do not retry
    throttled = "throttled"  # slow down, then retry
    unavailable = "unavailable"  # the service failed: retry later, serve the last good value


#: HTTP statuses that mean one kind of failure; every 5xx status means ``unavailable`` too.
HTTP_STATUSES: Mapping[int, Failure] = MappingProxyType(
    {
        401: Failure.denied,
        403: Failure.denied,
        404: Failure.not_found,
        429: Failure.throttled,
    }
)

_AWS_CODES = {
    Failure.not_found: ("ResourceNotFoundException",),
    Failure.denied: (
        *("AccessDeniedException", "AccessDenied"),
        "DecryptionFailure",  # the caller may not use the secret's KMS key
        *("UnrecognizedClientException", "InvalidClientTokenId"),
        *("InvalidSignatureException", "SignatureDoesNotMatch"),
        *("ExpiredTokenException", "ExpiredToken"),
    ),
    Failure.throttled: ("ThrottlingException", "Throttling", "TooManyRequestsException"),
    Failure.unavailable: ("InternalServiceError", "ServiceUnavailable"),
}
#: AWS error codes (Secrets Manager's and the STS/signature ones any AWS call may answer).
AWS_ERROR_CODES: Mapping[str, Failure] = MappingProxyType(
    {code: failure for failure, codes in _AWS_CODES.items() for code in codes}
)

#: The store error class of each kind of failure; other failures are a plain StoreError.
STORE_ERRORS: Mapping[Failure, type[StoreError]] = MappingProxyType(
    {
        Failure.not_found: SecretNotFoundError,
        Failure.denied: AccessDeniedError,
        Failure.throttled: StoreThrottledError,
        Failure.unavailable: StoreUnavailableError,
    }
)


def http_failure(status: int) -> Failure | None:
    """The kind of failure an HTTP status means; None for one that names none (400, say).

    >>> http_failure(403), http_failure(503), http_failure(400)
    (<Failure.denied: 'denied'>, <Failure.unavailable: 'unavailable'>, None)
    """
    return Failure.unavailable if status >= 500 else HTTP_STATUSES.get(status)


def aws_failure(code: str, status: int, message: str = "") -> Failure | None:
    """The kind of failure an AWS error means: by its code when the table knows it, else by the
    HTTP status. ``message`` tells a secret scheduled for deletion (InvalidRequestException)
    from other invalid requests.

    >>> aws_failure("Throttling", 400), aws_failure("", 403), aws_failure("", 400)
    (<Failure.throttled: 'throttled'>, <Failure.denied: 'denied'>, None)
    """
    if code == "InvalidRequestException" and "delet" in message.lower():
        return Failure.not_found  # "... because it was marked for deletion"
    found = AWS_ERROR_CODES.get(code)
    return found if found is not None else http_failure(status)


def store_error_class(failure: Failure | None) -> type[StoreError]:
    """The store error class for a kind of failure (StoreError for None)."""
    return StoreError if failure is None else STORE_ERRORS[failure]
