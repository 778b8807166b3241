"""Intercom's identity-verification secret API (``/secure_mode_secrets``): an adapter of its own.

Not a store: the workflows (rotation, verification) use it to create, list and delete the secrets
Intercom verifies with. ``client`` talks HTTP through an injectable ``transport``; ``records`` are
what the API reports; ``errors`` what can go wrong; ``orphans`` finds secrets a crashed rotation
created and never stored.
"""

from __future__ import annotations

from ivsecrets.intercom.client import API_VERSION, REGION_BASE_URLS, IntercomClient, RetryPolicy
from ivsecrets.intercom.errors import (
    IntercomAmbiguousCreateError,
    IntercomAPIError,
    IntercomAuthError,
    IntercomNotFoundError,
    IntercomRateLimitedError,
    IntercomUnavailableError,
)
from ivsecrets.intercom.orphans import (
    INTERCOM_NAME_PREFIX,
    create_intercom_secret,
    delete_intercom_orphans,
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
from ivsecrets.intercom.transport import (
    HTTPResponse,
    Transport,
    TransportError,
    http_client_transport,
)

__all__ = [
    "API_VERSION",
    "INTERCOM_NAME_PREFIX",
    "REGION_BASE_URLS",
    "CreatedIntercomSecret",
    "HTTPResponse",
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
    "Transport",
    "TransportError",
    "check_recorded_secret",
    "create_intercom_secret",
    "delete_intercom_orphans",
    "http_client_transport",
    "intercom_secret_name",
    "secrets_for_platform",
]
