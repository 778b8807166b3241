"""Reading Intercom's answers: the error of a failed call (its class from the error table, with
Intercom's own code, message and request id, the token never shown), JSON bodies, secret records,
and the secret in a create's answer, wrapped at once and never chained in a parse error."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ivsecrets.errors import IntercomAPIError
from ivsecrets.intercom.errors import IntercomAuthError, error_class
from ivsecrets.intercom.records import IntercomSecret
from ivsecrets.intercom.transport import HTTPResponse
from ivsecrets.secret import SecretValue

__all__ = ["created_secret", "detail", "error_for", "json_object", "parse_secret"]


def error_for(
    op: str,
    response: HTTPResponse,
    *,
    workspace: str | None,
    token: SecretValue,
    secret_id: str | None = None,
) -> Exception:
    """The error of an answer that is not a success: its class by status (the error table),
    with Intercom's own code, message and request id."""
    status = response.status
    what = f"{op} {secret_id}" if secret_id else op
    message = f"Intercom API: {what} failed with HTTP {status}{detail(response, token)}"
    cls = error_class(status)
    if cls is IntercomAuthError:
        message += " (is the workspace's access token valid, with the right scopes?)"
    return cls(message, status=status, workspace=workspace)


def detail(response: HTTPResponse, token: SecretValue) -> str:
    """Intercom's error code, message and request id, for the error message."""
    try:
        data = json.loads(response.body)
        first = data["errors"][0]
        text = f"{first.get('code')}: {first.get('message') or ''}".strip(": ")
        if data.get("request_id"):
            text += f"; request_id {data['request_id']}"
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return ""
    text = text.replace(token.reveal().decode("latin-1").removeprefix("Bearer "), "<token>")
    return f" ({''.join(c for c in text[:300] if c.isprintable())})"


def json_object(op: str, response: HTTPResponse, workspace: str | None) -> dict[str, Any]:
    """The JSON object an answer holds; IntercomAPIError if it holds none."""
    try:
        data = json.loads(response.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise IntercomAPIError(
            f"Intercom API: {op} answered HTTP {response.status} with a body that is not a "
            "JSON object",
            status=response.status,
            workspace=workspace,
        )
    return data


def parse_secret(op: str, item: object, status: int, workspace: str | None) -> IntercomSecret:
    """One secret record of an answer (metadata only)."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise IntercomAPIError(
            f"Intercom API: {op} answered with a secret that has no string id",
            status=status,
            workspace=workspace,
        )
    created = item.get("created_at")
    return IntercomSecret(
        id=item["id"],
        name=str(item.get("name") or ""),
        supports_web=item.get("supports_web") is True,
        supports_ios=item.get("supports_ios") is True,
        supports_android=item.get("supports_android") is True,
        created_at=_timestamp(created),
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def created_secret(body: bytes) -> tuple[SecretValue | None, object]:
    """The secret in a create's answer (wrapped at once) and the rest of the answer. Parse errors
    are not chained: a JSONDecodeError keeps the whole body, the secret in it, in ``.doc``."""
    data: Any = None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    value = data.pop("secret", None) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        return None, data
    secret = SecretValue(value)
    del value
    return secret, data
