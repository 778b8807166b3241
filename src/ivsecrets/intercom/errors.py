"""The errors of Intercom's secret API, one class per thing a caller does differently.

All derive from :class:`~ivsecrets.errors.IntercomAPIError` (in the core, so the CLI can map it to
an exit code without importing this package). Which HTTP status means which failure is the core's
table (:mod:`ivsecrets.error_codes`), shared with the stores; :data:`ERRORS` names this adapter's
class for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from ivsecrets.environments import Platform
from ivsecrets.error_codes import Failure, http_failure
from ivsecrets.errors import IntercomAPIError

__all__ = [
    "ERRORS",
    "IntercomAPIError",
    "IntercomAmbiguousCreateError",
    "IntercomAuthError",
    "IntercomNotFoundError",
    "IntercomRateLimitedError",
    "IntercomUnavailableError",
    "error_class",
]


class IntercomAuthError(IntercomAPIError):
    """Intercom refused the token (401) or its scopes (403): fix the token, do not retry."""


class IntercomNotFoundError(IntercomAPIError):
    """No such secret (404). On delete it means the secret is already gone."""


class IntercomUnavailableError(IntercomAPIError):
    """Intercom could not be reached or kept failing (5xx) after every retry; nothing is known
    to have changed, except where the call is idempotent (list, delete)."""


class IntercomRateLimitedError(IntercomUnavailableError):
    """Intercom kept answering 429; ``retry_after`` is the wait it asked for, when it said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        workspace: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, workspace=workspace)
        self.retry_after = retry_after


class IntercomAmbiguousCreateError(IntercomAPIError):
    """A create may or may not have happened at Intercom (5xx, or no answer after sending).

    The secret value, if one was created, is lost: pass this error to
    :meth:`IntercomClient.reconcile_create` to find the secret(s) and delete them. Deliberately not
    an :class:`IntercomUnavailableError`, so a generic "try again later" handler cannot swallow it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        workspace: str | None,
        name: str,
        platforms: tuple[Platform, ...],
        sent_at: datetime,
        secret_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, workspace=workspace)
        self.name = name
        self.platforms = platforms
        self.sent_at = sent_at
        self.secret_id = secret_id


#: The error class of each kind of failure an HTTP status means; IntercomAPIError for the others.
ERRORS: Mapping[Failure, type[IntercomAPIError]] = MappingProxyType(
    {
        Failure.denied: IntercomAuthError,
        Failure.not_found: IntercomNotFoundError,
        Failure.throttled: IntercomRateLimitedError,
        Failure.unavailable: IntercomUnavailableError,
    }
)


def error_class(status: int) -> type[IntercomAPIError]:
    """The error class for Intercom's final answer ``status`` (after any retries).

    >>> error_class(403).__name__, error_class(404).__name__, error_class(422).__name__
    ('IntercomAuthError', 'IntercomNotFoundError', 'IntercomAPIError')
    """
    failure = http_failure(status)
    return IntercomAPIError if failure is None else ERRORS[failure]
