"""AWS Secrets Manager's errors, mapped to ivsecrets' by what a caller does about them.

Shared by the ``aws`` store and the rotation Lambda.
"""

from __future__ import annotations

import re

from ivsecrets.errors import (
    AccessDeniedError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)

__all__ = ["client_error_parts", "error_code", "store_error"]

# Error codes by what a caller does about them. DecryptionFailure: the caller may not use the
# secret's KMS key.
_DENIED = {
    *("AccessDeniedException", "AccessDenied", "DecryptionFailure"),
    *("UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException"),
    *("SignatureDoesNotMatch", "ExpiredTokenException", "ExpiredToken"),
}
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException"}


def client_error_parts(err: Exception) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError; empty for other exceptions."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return "", "", 0
    info = response.get("Error", {})
    code, message = str(info.get("Code", "")), str(info.get("Message", ""))
    if message.startswith("<"):
        # An XML error body botocore could not parse as JSON (proxies; moto's IAM checks).
        found = {m[0]: m[1] for m in re.findall(r"<(Code|Message)>([^<]*)</", message)}
        code, message = found.get("Code", code), found.get("Message", "")
    return code, message, int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))


def error_code(err: Exception) -> str:
    """The AWS error code of a botocore ClientError; empty for other exceptions."""
    return client_error_parts(err)[0]


def store_error(code: str, message: str, status: int) -> StoreError:
    """The ivsecrets error for an AWS error code and HTTP status (the rotation Lambda uses it)."""
    text = f"AWS Secrets Manager answered {code or status}" + (f": {message}" if message else "")
    if code == "ResourceNotFoundException" or (
        code == "InvalidRequestException" and "delet" in message.lower()
    ):
        return SecretNotFoundError(text)
    if code in _DENIED or status in (401, 403):
        return AccessDeniedError(text)
    if code in _THROTTLED or status == 429:
        return StoreThrottledError(text)
    if status >= 500 or code in ("InternalServiceError", "ServiceUnavailable"):
        return StoreUnavailableError(text)
    return StoreError(text)
