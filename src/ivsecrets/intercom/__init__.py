"""Intercom's identity-verification secret API (``/secure_mode_secrets``): an adapter of its own.

Not a store: the workflows (rotation, verification) use it to create, list and delete the secrets
Intercom verifies with. This package exports what a user of the adapter needs: the client and its
retry policy, the records the API reports, the errors, and the crash-safe create and orphan
clean-up the rotation uses. The HTTP transport under the client (``HTTPResponse``, ``Transport``,
``http_client_transport``: what a test injects with ``IntercomClient(transport=...)``) is imported
from ``ivsecrets.intercom.transport``.
"""

from __future__ import annotations

from ivsecrets.intercom.client import REGION_BASE_URLS, IntercomClient, RetryPolicy
from ivsecrets.intercom.errors import (
    IntercomAmbiguousCreateError,
    IntercomAPIError,
    IntercomAuthError,
    IntercomNotFoundError,
    IntercomRateLimitedError,
    IntercomUnavailableError,
)
from ivsecrets.intercom.orphans import (
    create_intercom_secret,
    delete_intercom_orphans,
    delete_quietly,
    intercom_secret_name,
)
from ivsecrets.intercom.records import (
    CreatedIntercomSecret,
    IntercomSecret,
    RecordedSecretCheck,
    RecordedSecretState,
    check_recorded_secret,
    secrets_for_platform,
)

__all__ = [
    "REGION_BASE_URLS",
    "CreatedIntercomSecret",
    "IntercomAPIError",
    "IntercomAmbiguousCreateError",
    "IntercomAuthError",
    "IntercomClient",
    "IntercomNotFoundError",
    "IntercomRateLimitedError",
    "IntercomSecret",
    "IntercomUnavailableError",
    "RecordedSecretCheck",
    "RecordedSecretState",
    "RetryPolicy",
    "check_recorded_secret",
    "create_intercom_secret",
    "delete_intercom_orphans",
    "delete_quietly",
    "intercom_secret_name",
    "secrets_for_platform",
]
