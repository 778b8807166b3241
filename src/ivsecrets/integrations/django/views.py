"""``GET <prefix>/intercom/identity/<platform>``: the signed identity for a mobile or SPA client."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from ivsecrets.integrations.django import current_user_data, messenger
from ivsecrets.integrations.messenger import identity_response


@require_GET  # type: ignore[untyped-decorator]
def identity(request: Any, platform: str) -> Any:
    """The identity of ``request.user`` signed with ``platform``'s secret (see identity_response).

    The identity comes only from the session; query, body and headers are never read.
    """
    status, body, headers = identity_response(
        messenger(), platform, lambda: current_user_data(request)
    )
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response
