"""AWS Secrets Manager's errors, mapped to ivsecrets' by what a caller does about them.

Shared by the ``aws`` store and the rotation Lambda. The codes are in the core's table
(:mod:`ivsecrets.error_codes`), which the ``aws-agent`` store uses too. Also the configuration
errors of building a client: an unknown profile, a lease table that does not exist.
"""

from __future__ import annotations

import os
import re

from ivsecrets.config import StoreConfig
from ivsecrets.error_codes import aws_failure, store_error_class
from ivsecrets.errors import ConfigError, StoreError

__all__ = ["client_error_parts", "error_code", "missing_table", "store_error", "unknown_profile"]


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


def unknown_profile(store: StoreConfig, profile: str | None) -> ConfigError:
    """The error for a profile boto3 cannot find: which name, and where it came from."""
    if profile:
        name, source = profile, "the profile option"
    else:
        variable = "AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE"
        name, source = os.environ.get(variable, ""), f"the {variable} environment variable"
    files = os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")
    files += " or " + os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    fix = f"define [profile {name}] in {files}, or name an existing profile"
    if not profile:
        fix += f" (or unset {variable} to use the default credential chain)"
    return store.error("profile", f"no AWS profile named '{name}' (from {source})", fix)


def missing_table(store: StoreConfig, table: str, region: str | None) -> ConfigError:
    """The error for a lease table that does not exist: the option to fix, and what creates it."""
    return store.error(
        "lease_table",
        f"the DynamoDB table '{table}' that holds the rotation lease does not exist"
        + (f" in {region}" if region else ""),
        fix="create it with terraform/modules/aws (its output lease_table_name), or set "
        "lease_table to the name of the table that holds the lease",
    )
