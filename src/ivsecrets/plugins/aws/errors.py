"""AWS Secrets Manager's errors, mapped to ivsecrets' by what a caller does about them.

Shared by the ``aws`` store and the rotation Lambda. The codes are in the core's table
(:mod:`ivsecrets.error_codes`), which the ``aws-agent`` store uses too.
"""

from __future__ import annotations

import re

from ivsecrets.error_codes import aws_failure, store_error_class
from ivsecrets.errors import StoreError

__all__ = ["client_error_parts", "error_code", "store_error"]


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
    return store_error_class(aws_failure(code, status, message))(text)
